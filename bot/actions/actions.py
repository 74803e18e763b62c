"""Custom actions of madoguchi's Rasa bot.

The action server runs in the Rasa environment (Python 3.10, rasa-sdk 3.6.2, the version
matched to the Rasa server), so it cannot import the app's retrieval code (Python 3.11).
It asks the gateway's retrieval API instead (``MADOGUCHI_GATEWAY_URL``): one FAISS index and
one embedder in memory, one place that renders answers. If the gateway cannot be reached the
FAQ action says nothing, and the gateway, seeing an empty reply, answers from retrieval itself.
"""

import logging
import os
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

import aiohttp
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts

log = logging.getLogger(__name__)
GATEWAY_URL = os.environ.get("MADOGUCHI_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
TIMEOUT = aiohttp.ClientTimeout(total=float(os.environ.get("MADOGUCHI_ACTION_TIMEOUT", "8")))


def _lang(tracker: Tracker) -> Text:
    metadata = tracker.latest_message.get("metadata") or {}
    return metadata.get("lang") or tracker.get_slot("lang") or "ja"


def _lang_events(tracker: Tracker, lang: Text) -> List[Dict[Text, Any]]:
    return [SlotSet("lang", lang)] if tracker.get_slot("lang") != lang else []


async def _post(path: Text, body: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            async with session.post(f"{GATEWAY_URL}{path}", json=body) as response:
                if response.status != 200:
                    log.warning("gateway %s answered HTTP %s", path, response.status)
                    return None
                return await response.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("gateway %s unreachable: %s", path, exc)
        return None


def _dispatch(dispatcher: CollectingDispatcher, messages: List[Dict[Text, Any]]) -> None:
    for message in messages:
        if "custom" in message:
            dispatcher.utter_message(json_message=message["custom"])
        else:
            dispatcher.utter_message(text=message.get("text"), buttons=message.get("buttons") or [])


class ActionAnswerFaq(Action):
    """Answer from the city's FAQ knowledge base (or say honestly that it doesn't know)."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        lang = _lang(tracker)
        query = tracker.latest_message.get("text") or ""
        reply = await _post("/api/faq/answer", {"query": query, "lang": lang})
        if reply:
            _dispatch(dispatcher, reply["messages"])
        return _lang_events(tracker, lang)


class _FixedReply(Action, ABC):
    """A reply from a fixed table of texts, in the resident's language."""

    table: Dict[Text, Text] = {}

    @abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        lang = _lang(tracker)
        dispatcher.utter_message(text=texts.pick(self.table, lang))
        return _lang_events(tracker, lang)


class ActionGreet(_FixedReply):
    table = texts.GREET

    def name(self) -> Text:
        return "action_greet"


class ActionGoodbye(_FixedReply):
    table = texts.GOODBYE

    def name(self) -> Text:
        return "action_goodbye"


class ActionThanks(_FixedReply):
    table = texts.THANKS

    def name(self) -> Text:
        return "action_thanks"


class ActionOutOfScope(_FixedReply):
    table = texts.OUT_OF_SCOPE

    def name(self) -> Text:
        return "action_out_of_scope"


class ActionHandover(Action):
    """Tell the resident whom to call, with office hours (a staff ticket comes with issue 4)."""

    def name(self) -> Text:
        return "action_handover"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        lang = _lang(tracker)
        reply = await _post("/api/contact", {"department": "general", "lang": lang})
        contact = reply or {"department": "", "phone": "", "hours": ""}
        dispatcher.utter_message(text=texts.pick(texts.HANDOVER, lang).format(**contact))
        return _lang_events(tracker, lang)
