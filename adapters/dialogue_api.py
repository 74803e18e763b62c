"""Gateway routes the Rasa action server uses for the dialogue (mounted under ``/api``).

``POST /api/kb/entry`` (one KB entry rendered like an FAQ answer), ``GET /api/garbage/schedule``
(one district's collection days, parsed from the KB), ``POST /api/feedback`` (👍/👎),
``POST /api/handover`` (a staff ticket holding the conversation) and ``GET /api/handover/{ticket}``
(staff only: a clerk-app session).
Feedback and tickets live in SQLite under ``settings.storage.data_dir``; the store is opened on
first use so that a gateway that never receives feedback never creates the file.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from adapters.clerk.auth import SessionDep
from adapters.render import answer_messages
from adapters.schedule import parse_schedule
from adapters.tickets import DialogueStore
from retrieval import Answer, Entry, normalize_language_code
from retrieval.messages import fallback_note

router = APIRouter()
GARBAGE_ENTRY = "garbage.collection-days"
_FALLBACK = ("en", "ja")


def _store(request: Request) -> DialogueStore:
    store = getattr(request.app.state, "dialogue_store", None)
    if store is None:
        store = DialogueStore(request.app.state.settings.storage.data_dir / "dialogue.db")
        request.app.state.dialogue_store = store
    return store


def _lang(code: str | None) -> str:
    return normalize_language_code(code or "") or "ja"


def _pick(available: dict[str, Any], lang: str) -> str:
    for candidate in (lang, *(["ja"] if lang == "ja-easy" else []), *_FALLBACK):
        if candidate in available:
            return candidate
    return next(iter(available))


def _entry(request: Request, entry_id: str) -> Entry:
    try:
        return request.app.state.retriever.kb.entry(entry_id)
    except KeyError as exc:
        raise HTTPException(404, f"no KB entry with id {entry_id!r}") from exc


def entry_answer(request: Request, entry: Entry, lang: str) -> Answer:
    """An entry as a confident answer in ``lang`` (or its fallback language, with a note)."""
    answer_lang = _pick(entry.answers, lang)
    return Answer(
        kind="answer", lang=lang, text=entry.answers[answer_lang], confidence=1.0,
        contact=request.app.state.retriever.contact(entry.department, lang),
        entry_id=entry.id, source_url=entry.source_url, answer_lang=answer_lang,
        note=fallback_note(lang, answer_lang) if answer_lang != lang else None,
    )


class EntryRequest(BaseModel):
    entry_id: str = Field(min_length=1, max_length=200)
    lang: str | None = None


@router.post("/kb/entry")
async def kb_entry(body: EntryRequest, request: Request) -> dict[str, Any]:
    """One KB entry, shaped like ``/api/faq/answer`` (the dialogue shows a known entry)."""
    answer = entry_answer(request, _entry(request, body.entry_id), _lang(body.lang))
    return {"answer": asdict(answer), "messages": answer_messages(answer)}


@router.get("/garbage/schedule")
async def garbage_schedule(
    request: Request,
    district: str = Query(min_length=1, max_length=40, description="kita, minami, higashi, nishi or chuo"),
    lang: str | None = Query(default=None),
) -> dict[str, Any]:
    """One district's collection weekdays (Monday = 0) per category, from the KB entry."""
    entry = _entry(request, GARBAGE_ENTRY)
    table = parse_schedule(entry.answers.get("ja", ""))
    if table and district not in table:
        raise HTTPException(404, f"unknown district {district!r}; expected one of {', '.join(table)}")
    return {
        "district": district,
        "schedule": table.get(district, {}),
        "entry_id": entry.id,
        "source_url": entry.source_url,
        "contact": asdict(request.app.state.retriever.contact(entry.department, _lang(lang))),
    }


class FeedbackRequest(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=128)
    entry_id: str | None = Field(default=None, max_length=200)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)
    lang: str | None = None


@router.post("/feedback")
async def feedback(body: FeedbackRequest, request: Request) -> dict[str, Any]:
    """Store a 👍/👎 on an answer (the comment is stored with personal data masked)."""
    item = _store(request).add_feedback(
        body.conversation_id, body.entry_id, body.rating, body.comment, body.lang
    )
    return asdict(item)


class Turn(BaseModel):
    role: Literal["user", "bot"]
    text: str = Field(max_length=4000)


class HandoverRequest(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=128)
    lang: str | None = None
    reason: str = Field(default="", max_length=200)
    transcript: list[Turn] = Field(default_factory=list, max_length=200)


@router.post("/handover")
async def handover(body: HandoverRequest, request: Request) -> dict[str, str]:
    """Open a staff ticket holding the (masked) conversation; returns the ticket number and
    whom the resident should call."""
    lang = _lang(body.lang)
    ticket = _store(request).open_ticket(
        body.conversation_id, [t.model_dump() for t in body.transcript], lang, body.reason
    )
    contact = request.app.state.retriever.contact("general", lang)
    return {"ticket": ticket.ticket, **asdict(contact)}


@router.get("/handover/{ticket}")
async def handover_ticket(ticket: str, request: Request, staff: SessionDep) -> dict[str, Any]:
    """A ticket and its conversation, for staff: needs a clerk-app login (ticket numbers are
    sequential, so without one anybody could read every conversation handed over)."""
    found = _store(request).ticket(ticket)
    if found is None:
        raise HTTPException(404, f"no handover ticket {ticket!r}")
    return asdict(found)
