"""One resident turn: Rasa when it is up, retrieval alone when it is not (degraded mode)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from adapters.language_guard import unsupported_language, unsupported_messages
from adapters.privacy import mask_pii
from adapters.rasa_client import RasaClient, RasaUnavailable
from adapters.render import answer_messages
from retrieval import Retriever, detect_language

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatReply:
    """Messages for the resident, and whether they came from the degraded path."""

    messages: list[dict[str, Any]]
    lang: str
    degraded: bool


class ChatService:
    """Routes a message to Rasa, falling back to retrieval when Rasa can't answer."""

    def __init__(self, rasa: RasaClient, retriever: Retriever) -> None:
        self.rasa = rasa
        self.retriever = retriever

    async def handle(self, sender: str, message: str, metadata: dict[str, Any]) -> ChatReply:
        """Answer one message from ``sender``."""
        given = metadata.get("lang") if isinstance(metadata.get("lang"), str) else None
        guess = detect_language(message, given=given)
        lang = guess.lang
        # Residents type phone numbers and addresses; logs get the masked text only.
        log.debug("message from %s (%s, %s): %s", sender, lang, guess.reason, mask_pii(message))
        # Neither Rasa nor retrieval can help in a language we do not support: say so, in
        # English and Japanese, naming the languages we do.
        other = await run_in_threadpool(unsupported_language, message)
        if other:
            log.info("message in unsupported language %s from %s", other, sender)
            return ChatReply(unsupported_messages(other), "en", degraded=not self.rasa.rasa.up)
        # The action server keeps an explicit (UI) language over a detected one.
        source = "ui" if guess.reason == "given" else "detected"
        if self.rasa.rasa.up:
            try:
                messages = await self.rasa.send(
                    sender, message, {**metadata, "lang": lang, "lang_source": source}
                )
            except RasaUnavailable as exc:
                log.warning("Rasa unavailable, answering from retrieval: %s", exc)
            else:
                if messages:
                    return ChatReply(_strip_recipient(messages, sender), lang, degraded=False)
                log.warning("Rasa sent an empty reply (action server down?); using retrieval")
        answer = await run_in_threadpool(self.retriever.answer, message, lang)
        return ChatReply(answer_messages(answer, degraded=True), lang, degraded=True)


def _strip_recipient(messages: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    return [{"recipient_id": sender, **{k: v for k, v in m.items()}} for m in messages]
