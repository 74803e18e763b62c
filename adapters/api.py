"""REST routes of the gateway: chat, health, search and the FAQ answer used by Rasa."""

from __future__ import annotations

import os
import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from adapters import dialogue_api
from adapters.render import answer_messages, plain_dict
from retrieval import QueryError

router = APIRouter(prefix="/api")
# Dialogue support for the action server: KB entries, garbage schedule, feedback, handover.
router.include_router(dialogue_api.router)


class ChatRequest(BaseModel):
    """Rasa REST channel shape."""

    sender: str = Field(default="anonymous", min_length=1, max_length=128)
    message: str = Field(description="What the resident typed.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description='e.g. {"lang": "en"} from the channel or UI'
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_is_unicode(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        # Passed on to Rasa as JSON: a lone surrogate ("\ud800") there would fail to encode.
        try:
            json.dumps(metadata, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("metadata holds text that is not valid Unicode (a lone surrogate)") from exc
        return metadata


class ChatMessage(BaseModel):
    """One bot message, as Rasa's REST channel returns it."""

    recipient_id: str | None = None
    text: str | None = None
    buttons: list[dict[str, Any]] | None = None
    custom: dict[str, Any] | None = None
    image: str | None = None


class AnswerRequest(BaseModel):
    query: str
    lang: str | None = None


def _check_message(request: Request, text: str) -> str:
    limit = request.app.state.settings.gateway.max_message_chars
    if not text.strip():
        raise HTTPException(422, "message is empty; send the resident's question as 'message'")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON may escape a lone surrogate ("\ud800")
        raise HTTPException(
            422, f"message is not valid Unicode (a lone surrogate at character {exc.start}); "
            "send UTF-8 text"
        ) from exc
    if len(text) > limit:
        raise HTTPException(
            422, f"message is too long ({len(text)} characters; at most {limit} are accepted)"
        )
    return text


@router.post("/chat", response_model=list[ChatMessage], response_model_exclude_none=True)
async def chat(body: ChatRequest, request: Request, response: Response) -> list[dict[str, Any]]:
    """One turn of conversation. Answers from Rasa, or from retrieval alone when Rasa is down
    (then every message's ``custom.degraded`` is true and ``X-Madoguchi-Mode: degraded``)."""
    message = _check_message(request, body.message)
    reply = await request.app.state.chat.handle(body.sender, message, body.metadata)
    response.headers["X-Madoguchi-Mode"] = "degraded" if reply.degraded else "rasa"
    response.headers["Content-Language"] = reply.lang
    return [{"recipient_id": body.sender, **m} for m in reply.messages]


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Each component's state and an overall ``ok`` / ``degraded``."""
    from adapters.gateway import whisper_state

    state = request.app.state
    retriever = state.retriever
    components = {
        # Every Rasa process under "processes"; "up" when all are ("partial": some).
        "rasa": state.rasa.rasa.as_dict(),
        "action_server": state.rasa.actions.as_dict() | {"url": state.settings.rasa.action_url},
        "retrieval": {
            "status": "up" if retriever.ready and not retriever.kb_error else "down",
            "entries": len(retriever.kb.entries) if retriever.ready else 0,
            "embedder": retriever.embedder.name,
            "detail": retriever.kb_error or "serving the current knowledge base",
        },
        "whisper": whisper_state(state.settings.speech.model_path),
    }
    ok = all(c["status"] == "up" for c in components.values())
    # pid: which gateway replica answered (several share one port: docs/scaling.md).
    return {"status": "ok" if ok else "degraded", "components": components, "pid": os.getpid()}


@router.get("/search")
async def search(
    request: Request,
    q: str = Query(min_length=1, max_length=2000, description="the question"),
    lang: str | None = Query(default=None, description="language code; detected when omitted"),
    top_k: int = Query(default=5, ge=1, le=50),
) -> list[dict[str, Any]]:
    """Ranked FAQ entries for a question (no answer selection)."""
    try:
        hits = await run_in_threadpool(request.app.state.retriever.search, q, lang, top_k)
    except QueryError as exc:
        raise HTTPException(422, str(exc)) from exc
    return [asdict(h) for h in hits]


@router.post("/faq/answer")
async def faq_answer(body: AnswerRequest, request: Request) -> dict[str, Any]:
    """The retrieval answer and its REST-shaped messages (the Rasa action server calls this)."""
    _check_message(request, body.query)
    answer = await run_in_threadpool(request.app.state.retriever.answer, body.query, body.lang)
    return {"answer": plain_dict(answer), "messages": answer_messages(answer)}


class ContactRequest(BaseModel):
    department: str = "general"
    lang: str = "ja"


@router.post("/contact")
async def contact(body: ContactRequest, request: Request) -> dict[str, str]:
    """A department's name, phone and hours in the asker's language (the general desk when
    the department is unknown)."""
    return asdict(request.app.state.retriever.contact(body.department, body.lang))
