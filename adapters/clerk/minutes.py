"""The minutes of a finished job: versions with optimistic concurrency, exports, finalize,
and the recording itself (with Range, for the editor's player).

Minutes are stored as versions of the JSON export (``speech.minutes_to_dict``); a save names the
version it was based on and gets 409 with the current version if someone saved in between, so
the editor can show both texts and lose neither. Exports render any version with the speech
exporters, so DOCX, TXT, SRT, VTT and JSON always match what the clerk sees.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from adapters.clerk.auth import SessionDep, settings_of, store_of
from adapters.clerk.errors import Conflict
from adapters.clerk.store import Job
from adapters.clerk.worker import checkpoints, jobs_dir
from adapters.settings import Settings
from speech import SpeechError, minutes_from_dict, remember_speakers, write_exports

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/clerk", tags=["clerk"])

EXPORTS = {
    "docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "txt": ("txt", "text/plain; charset=utf-8"),
    "transcript": ("transcript", "text/plain; charset=utf-8"),
    "srt": ("srt", "application/x-subrip; charset=utf-8"),
    "vtt": ("vtt", "text/vtt; charset=utf-8"),
    "json": ("json", "application/json"),
}


def _minutes_view(store: Any, job: Job) -> dict[str, Any]:
    v = store.latest(job.id)
    return {"job": job.public(), "version": v.version, "final": v.final, "author": v.author,
            "doc": v.doc}


@router.get("/minutes/{job_id}")
def get_minutes(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    """The current version of the minutes (the JSON export's shape in ``doc``)."""
    store = store_of(request)
    return _minutes_view(store, store.job(job_id))


class SaveMinutes(BaseModel):
    base_version: int = Field(ge=1)
    doc: dict[str, Any]


@router.put("/minutes/{job_id}")
def save_minutes(job_id: int, body: SaveMinutes, session: SessionDep, request: Request) -> Any:
    """Save an edited version on top of ``base_version``; 409 (with the current one) if stale."""
    store = store_of(request)
    job = store.job(job_id)
    _check_text(body.doc)
    try:
        minutes_from_dict(body.doc)
    except (SpeechError, TypeError) as exc:  # TypeError: e.g. a list where a speaker id goes
        raise HTTPException(400, f"minutes document refused: {exc}") from exc
    try:
        v = store.save_version(job_id, body.base_version, body.doc, session.user.name)
    except Conflict as exc:
        return JSONResponse(
            status_code=409, content={"detail": str(exc), "current": _minutes_view(store, job)}
        )
    return {"version": v.version, "author": v.author, "created_at": v.created_at}


# C0 control characters other than tab, newline and carriage return: XML (DOCX) cannot hold
# them, and no editor types them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _check_text(value: Any, where: str = "doc") -> None:
    """400 unless every string in the document is storable Unicode without control characters."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise HTTPException(
                400, f"{where} is not valid Unicode (a lone surrogate at character {exc.start})"
            ) from exc
        bad = _CONTROL.search(value)
        if bad:
            raise HTTPException(
                400, f"{where} holds the control character U+{ord(bad.group()):04X} at "
                f"character {bad.start()}; remove it"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where} key")
            _check_text(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{where}[{i}]")


@router.get("/minutes/{job_id}/versions")
def list_versions(job_id: int, session: SessionDep, request: Request) -> list[dict[str, Any]]:
    """The version history, newest first."""
    store = store_of(request)
    store.job(job_id)
    return store.versions(job_id)  # type: ignore[no-any-return]


@router.get("/minutes/{job_id}/versions/{version}")
def get_version(job_id: int, version: int, session: SessionDep, request: Request) -> dict[str, Any]:
    v = store_of(request).version(job_id, version)
    return {"version": v.version, "author": v.author, "created_at": v.created_at,
            "final": v.final, "doc": v.doc}


class Finalize(BaseModel):
    version: int = Field(ge=1)


@router.post("/minutes/{job_id}/finalize")
def finalize(job_id: int, body: Finalize, session: SessionDep, request: Request) -> dict[str, Any]:
    """Lock the minutes at ``version`` (must be the current one): no more edits after this.

    The speakers the clerk named are remembered by voice (``speech.remember_speakers``), so the
    next session's minutes name them without a roster.
    """
    store = store_of(request)
    current = store.latest(job_id)
    v = store.save_version(job_id, body.version, current.doc, session.user.name, final=True)
    return {"version": v.version, "final": True,
            "remembered": _remember_voices(settings_of(request), job_id, v.doc)}


def _remember_voices(settings: Settings, job_id: int, doc: dict[str, Any]) -> list[str]:
    job_dir = checkpoints(jobs_dir(settings.storage.data_dir), job_id)
    if not (job_dir / "speakers.npz").is_file() or not any(s.get("name") for s in doc["speakers"]):
        return []  # no voices kept (single speaker, diarization off) or nobody named
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "minutes.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        try:
            return remember_speakers(path, job_dir, settings.speech)
        except SpeechError as exc:  # the minutes are final either way; say why in the log
            log.warning("minutes %d: speakers not remembered: %s", job_id, exc)
            return []


@router.get("/minutes/{job_id}/export/{fmt}")
def export(
    job_id: int, fmt: str, session: SessionDep, request: Request, version: int | None = None
) -> Response:
    """The minutes as DOCX, TXT (会議録), transcript, SRT, VTT or JSON, from the current version
    or ``?version=``."""
    if fmt not in EXPORTS:
        raise HTTPException(404, f"unknown export {fmt!r}; expected one of {', '.join(EXPORTS)}")
    store = store_of(request)
    job = store.job(job_id)
    v = store.version(job_id, version) if version else store.latest(job_id)
    try:
        minutes = minutes_from_dict(v.doc)
    except SpeechError as exc:
        raise HTTPException(500, f"stored version {v.version} is unreadable: {exc}") from exc
    name, media = EXPORTS[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = write_exports(minutes, Path(tmp), "minutes", [name])
        data = path.read_bytes()
        filename = f"{job.title}-v{v.version}{path.name.removeprefix('minutes')}"
    return Response(
        data, media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get("/minutes/{job_id}/audio")
def audio(job_id: int, session: SessionDep, request: Request) -> FileResponse:
    """The uploaded recording, with Range support so the player can seek."""
    job = store_of(request).job(job_id)
    if not job.audio.is_file():
        raise HTTPException(404, f"the recording of minutes {job_id} is no longer stored")
    return FileResponse(job.audio, headers={"Cache-Control": "private, no-cache"})
