"""Custom actions of madoguchi's Rasa bot: FAQ answers, fixed replies, language, feedback
and handover. The forms live in ``forms.py``.

The action server runs in the Rasa environment (Python 3.10, rasa-sdk 3.6.2, the version
matched to the Rasa server), so it cannot import the app's retrieval code (Python 3.11).
It asks the gateway's API instead (``gateway.py``). If the gateway cannot be reached the FAQ
action says nothing, and the gateway, seeing an empty reply, answers from retrieval itself.
"""

import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import gateway, language, parsing, texts

log = logging.getLogger(__name__)
# How much of the conversation a staff ticket carries.
TRANSCRIPT_EVENTS = 40
FORM_SLOTS = ("child_age", "start_month", "moved_from", "moved_when", "work_status")


def lang_choice(tracker: Tracker) -> language.LangChoice:
    """The language for this turn (see ``language.resolve``)."""
    message = tracker.latest_message
    metadata = message.get("metadata") or {}
    # Form answers and button payloads ("/inform{…}") say nothing about the language.
    answering = (
        bool(tracker.active_loop_name)
        or (message.get("intent") or {}).get("name") == "inform"
        or (message.get("text") or "").startswith("/")
    )
    return language.resolve(
        metadata,
        tracker.get_slot("lang"),
        tracker.get_slot("lang_source"),
        tracker.get_slot("ui_lang"),
        in_form=answering,
    )


def lang_events(tracker: Tracker, choice: language.LangChoice) -> List[Dict[Text, Any]]:
    """SlotSet events for the language slots that changed."""
    wanted = {"lang": choice.lang, "lang_source": choice.source, "ui_lang": choice.ui_lang}
    return [SlotSet(k, v) for k, v in wanted.items() if tracker.get_slot(k) != v]


def dispatch(dispatcher: CollectingDispatcher, messages: List[Dict[Text, Any]]) -> None:
    """Send REST-shaped messages from the gateway (text, buttons, custom) to the resident."""
    for message in messages:
        if "custom" in message:
            dispatcher.utter_message(json_message=message["custom"])
        else:
            dispatcher.utter_message(text=message.get("text"), buttons=message.get("buttons") or [])


def feedback_buttons(lang: Text) -> List[Dict[Text, Text]]:
    """👍/👎 buttons whose payloads reach action_feedback with the rating as an entity."""
    return [
        {"title": "👍", "payload": '/feedback{"rating":"up"}'},
        {"title": "👎", "payload": '/feedback{"rating":"down"}'},
    ]


async def send_entry(dispatcher: CollectingDispatcher, entry_id: Text, lang: Text) -> Optional[Dict]:
    """Show one KB entry (answer, source, contact) from the gateway; its reply or None."""
    reply = await gateway.post("/api/kb/entry", {"entry_id": entry_id, "lang": lang})
    if reply:
        dispatch(dispatcher, reply["messages"])
    return reply


class ActionAnswerFaq(Action):
    """Answer from the city's FAQ knowledge base (or say honestly that it doesn't know)."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        if answered_already(tracker, self.name()):
            # Rasa predicted this action again for the same message (its fallback after a
            # form rejected the message and no rule said what next): answering again would
            # repeat the answer until Rasa's circuit breaker stops it (docs/load.md). Go
            # back to the form's question, or wait for the resident.
            return [FollowupAction(tracker.active_loop_name or "action_listen")]
        choice = lang_choice(tracker)
        events = lang_events(tracker, choice)
        query = tracker.latest_message.get("text") or ""
        if not parsing.has_words(query):
            dispatcher.utter_message(text=texts.pick(texts.NO_WORDS, choice.lang))
            return events
        reply = await gateway.post("/api/faq/answer", {"query": query, "lang": choice.lang})
        if not reply:
            return events
        dispatch(dispatcher, reply["messages"])
        answer = reply.get("answer") or {}
        if answer.get("kind") == "answer" and answer.get("entry_id"):
            dispatcher.utter_message(
                text=texts.pick(texts.FEEDBACK_PROMPT, choice.lang),
                buttons=feedback_buttons(choice.lang),
            )
            events.append(SlotSet("last_entry_id", answer["entry_id"]))
        return events


def answered_already(tracker: Tracker, action_name: Text) -> bool:
    """Whether ``action_name`` already ran since the resident's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == action_name:
            return True
    return False


class _FixedReply(Action, ABC):
    """A reply from a fixed table of texts, in the resident's language."""

    table: Dict[Text, Text] = {}

    @abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        dispatcher.utter_message(text=texts.pick(self.table, choice.lang))
        return lang_events(tracker, choice)


class ActionGreet(_FixedReply):
    table = texts.GREET

    def name(self) -> Text:
        return "action_greet"


class ActionThanks(_FixedReply):
    table = texts.THANKS

    def name(self) -> Text:
        return "action_thanks"


class ActionOutOfScope(_FixedReply):
    table = texts.OUT_OF_SCOPE

    def name(self) -> Text:
        return "action_out_of_scope"


class ActionGoodbye(_FixedReply):
    """Goodbye also ends any form the resident walked away from."""

    table = texts.GOODBYE

    def name(self) -> Text:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        events = await super().run(dispatcher, tracker, domain)
        return events + end_form_events(tracker)


def end_form_events(tracker: Tracker) -> List[Dict[Text, Any]]:
    """Events that close an active form and forget its half-given answers."""
    events: List[Dict[Text, Any]] = [SlotSet("form_retries", 0)]
    if tracker.active_loop_name:
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return events + [SlotSet(s, None) for s in FORM_SLOTS if tracker.get_slot(s) is not None]


def transcript(tracker: Tracker, limit: int = TRANSCRIPT_EVENTS) -> List[Dict[Text, Text]]:
    """The recent user and bot texts of the conversation, oldest first."""
    lines = []
    for event in tracker.events[-limit * 3:]:
        if event.get("event") in ("user", "bot") and event.get("text"):
            lines.append({"role": event["event"], "text": event["text"]})
    return lines[-limit:]


async def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, lang: Text,
                    reason: Text) -> List[Dict[Text, Any]]:
    """Open a staff ticket with the conversation and tell the resident whom to call.

    Without the gateway there is no ticket; the general desk's contact is still given.
    """
    body = {"conversation_id": tracker.sender_id, "lang": lang, "reason": reason,
            "transcript": transcript(tracker)}
    ticket = await gateway.post("/api/handover", body)
    if ticket:
        dispatcher.utter_message(text=texts.pick(texts.HANDOVER_TICKET, lang).format(**ticket))
    else:
        contact = await gateway.post("/api/contact", {"department": "general", "lang": lang})
        contact = contact or {"department": "霞野市役所", "phone": "", "hours": ""}
        dispatcher.utter_message(text=texts.pick(texts.HANDOVER, lang).format(**contact))
    return end_form_events(tracker)


class ActionHandover(Action):
    """Hand the conversation to staff: a ticket, office hours, the phone number."""

    def name(self) -> Text:
        return "action_handover"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        events = await hand_over(dispatcher, tracker, choice.lang, "asked")
        return lang_events(tracker, choice) + events


class ActionChangeLanguage(Action):
    """Switch to the language named (button payload or words), or offer the eleven."""

    def name(self) -> Text:
        return "action_change_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        wanted = next(tracker.get_latest_entity_values("language"), None)
        if wanted in language.LANGUAGES:
            dispatcher.utter_message(text=texts.pick(texts.LANGUAGE_SET, wanted))
            return [SlotSet("lang", wanted), SlotSet("lang_source", "user")]
        choice = lang_choice(tracker)
        buttons = [
            {"title": texts.LANGUAGE_NAMES[code],
             "payload": '/change_language{"language":"%s"}' % code}
            for code in language.LANGUAGES
        ]
        dispatcher.utter_message(text=texts.pick(texts.CHOOSE_LANGUAGE, choice.lang), buttons=buttons)
        return lang_events(tracker, choice)


class ActionFeedback(Action):
    """Store 👍/👎 (or words) against the last FAQ answer."""

    def name(self) -> Text:
        return "action_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        text = tracker.latest_message.get("text") or ""
        entity = next(tracker.get_latest_entity_values("rating"), None)
        rating = entity if entity in ("up", "down") else parsing.rating(text)
        body = {
            "conversation_id": tracker.sender_id,
            "entry_id": tracker.get_slot("last_entry_id"),
            "rating": rating,
            "comment": "" if text.startswith("/") else text,
            "lang": choice.lang,
        }
        await gateway.post("/api/feedback", body)
        buttons = []
        if rating == "down":
            buttons = [{"title": "☎", "payload": "/ask_human"}]
        dispatcher.utter_message(text=texts.pick(texts.FEEDBACK_THANKS, choice.lang), buttons=buttons)
        return lang_events(tracker, choice)
