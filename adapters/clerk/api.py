"""The clerk app's JSON API: resumable uploads, minutes jobs (SSE progress, cancel, retry), and
the minutes themselves (versions with optimistic concurrency, exports, finalize, the audio).

Uploads are resumable the simple way: ``POST /uploads`` declares name and size, each
``PUT /uploads/{id}?offset=N`` appends one chunk at exactly the offset the server has (else 409
with the server's offset, which ``GET /uploads/{id}`` also reports), and the last chunk triggers
the type check (``speech.probe_audio``: what ffmpeg can decode, not what the name says).

Minutes are stored as versions of the JSON export (``speech.minutes_to_dict``); a save names the
version it was based on and gets 409 with the current version if someone saved in between, so
the editor can show both texts and lose neither.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from adapters.clerk.auth import SessionDep, store_of
from adapters.clerk.errors import ClerkError, Conflict, NotFound
from adapters.clerk.store import Job, Session, Upload
from adapters.clerk.worker import checkpoints, jobs_dir
from adapters.settings import Settings
from speech import (
    EmptyAudioError,
    NotAudioError,
    SpeechError,
    minutes_from_dict,
    probe_audio,
    remember_speakers,
    write_exports,
)

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
_TERMINAL = ("done", "failed", "cancelled")


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    name = re.sub(r"[^\w.\-ぁ-んァ-ヶー一-龯]", "_", name).strip("._") or "recording"
    return name[:120]


# --- uploads ---------------------------------------------------------------------------------


class NewUpload(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size: int


@router.post("/uploads", status_code=201)
def create_upload(body: NewUpload, session: SessionDep, request: Request) -> dict[str, Any]:
    """Declare a recording to upload; returns its id, the offset to start at and chunk size."""
    limits = _settings(request).clerk
    if body.size <= 0:
        raise HTTPException(400, f"{body.filename}: the file is empty (0 bytes); choose a recording")
    if body.size > limits.max_upload_bytes:
        raise HTTPException(
            413,
            f"{body.filename} is {body.size} bytes; the limit is {limits.max_upload_bytes} bytes",
        )
    upload_dir = Path(_settings(request).storage.data_dir) / "clerk" / "uploads"
    store = store_of(request)
    upload = store.add_upload(session.user, _safe_name(body.filename), body.size, upload_dir)
    return {"id": upload.id, "offset": 0, "size": body.size, "chunk_bytes": limits.max_chunk_bytes}


def _own_upload(store: Any, upload_id: str, session: Session) -> Upload:
    u: Upload = store.upload(upload_id)
    if u.user_id != session.user.id:
        raise NotFound(f"no upload {upload_id!r}")  # others' uploads are not revealed
    return u


@router.get("/uploads/{upload_id}")
def upload_status(upload_id: str, session: SessionDep, request: Request) -> dict[str, Any]:
    """Where an upload stands: resume by sending the chunk that starts at ``offset``."""
    u = _own_upload(store_of(request), upload_id, session)
    return {"id": u.id, "filename": u.filename, "offset": u.received, "size": u.size,
            "status": u.status, "chunk_bytes": _settings(request).clerk.max_chunk_bytes}


@router.put("/uploads/{upload_id}")
async def upload_chunk(
    upload_id: str, offset: int, session: SessionDep, request: Request
) -> dict[str, Any]:
    """Append one chunk at ``offset``; the last one is checked to be audio."""
    store = store_of(request)
    u = _own_upload(store, upload_id, session)
    if u.status != "receiving":
        raise HTTPException(409, f"upload {upload_id} is {u.status}; it takes no more data")
    if offset != u.received:
        return JSONResponse(  # type: ignore[return-value]
            status_code=409,
            content={"detail": f"offset {offset} does not match the {u.received} bytes "
                               f"received; resume at {u.received}", "offset": u.received},
        )
    if upload_id in _WRITING:  # two tabs sending the same chunk: one writes, one waits
        raise HTTPException(409, f"another chunk of upload {upload_id} is being written; retry")
    _WRITING.add(upload_id)
    try:
        received = await _append(request, u)
    finally:
        _WRITING.discard(upload_id)
    if received < u.size:
        if u.received == 0 and not _looks_like_media(u.path):
            # Refuse a wrong file after its first chunk, not after gigabytes.
            await _probe_or_reject(store, u.id, u.filename, u.path, received)
        store.set_upload(upload_id, received, "receiving")
        return {"id": upload_id, "offset": received, "size": u.size, "complete": False}
    info = await _probe_or_reject(store, u.id, u.filename, u.path, received)
    store.set_upload(upload_id, received, "complete")
    return {"id": upload_id, "offset": received, "size": u.size, "complete": True,
            "duration": info.duration}


# Uploads with a chunk being written right now (this process): chunks of one upload are
# appended one at a time, never interleaved.
_WRITING: set[str] = set()


async def _append(request: Request, u: Upload) -> int:
    """Append the request body at ``u.received``; return the new size. Over-long: 413, undone."""
    received = u.received
    with u.path.open("r+b") as out:
        out.seek(received)
        async for piece in request.stream():
            if received + len(piece) > u.size:
                out.truncate(u.received)
                raise HTTPException(
                    413, f"chunk goes past the declared size of {u.size} bytes; nothing was kept"
                )
            out.write(piece)
            received += len(piece)
    return received


# Container signatures ffmpeg reads (WAV/AVI, MP3, FLAC, Ogg, Matroska/WebM, MP4/M4A/MOV,
# AIFF, WMA/ASF, AMR). A first chunk without one is probed as it is before more is accepted.
_MAGIC = (b"RIFF", b"ID3", b"fLaC", b"OggS", b"\x1aE\xdf\xa3", b"FORM", b"0&\xb2u", b"#!AMR")


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(12)
    mpeg_frame = len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return head.startswith(_MAGIC) or head[4:8] == b"ftyp" or mpeg_frame


async def _probe_or_reject(store: Any, upload_id: str, filename: str, path: Path, received: int) -> Any:
    """``probe_audio`` the (possibly partial) file; on failure drop it and answer 415."""
    try:
        return await run_in_threadpool(probe_audio, path)
    except (NotAudioError, EmptyAudioError) as exc:
        store.set_upload(upload_id, received, "rejected")
        path.unlink(missing_ok=True)
        raise HTTPException(415, f"{filename} is not a recording we can read: {exc}") from exc


# --- jobs ------------------------------------------------------------------------------------


class NewJob(BaseModel):
    upload_id: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=200)


@router.post("/jobs", status_code=201)
def create_job(body: NewJob, session: SessionDep, request: Request) -> dict[str, Any]:
    """Queue minutes for a completely uploaded recording."""
    store = store_of(request)
    u = _own_upload(store, body.upload_id, session)
    if u.status != "complete":
        raise HTTPException(
            409, f"upload {u.id} is {u.status} ({u.received}/{u.size} bytes); finish it first"
        )
    title = (body.title or "").strip() or Path(u.filename).stem
    return store.add_job(u, title).public()


@router.get("/jobs")
def list_jobs(session: SessionDep, request: Request) -> list[dict[str, Any]]:
    """All minutes jobs, newest first."""
    return [j.public() for j in store_of(request).jobs()]


@router.get("/jobs/{job_id}")
def get_job(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    return store_of(request).job(job_id).public()


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    """Cancel a queued or running job (a running one stops at its next progress report)."""
    return store_of(request).transition(job_id, ("queued", "running"), "cancelled").public()


@router.post("/jobs/{job_id}/retry")
def retry_job(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    """Queue a failed or cancelled job again (it resumes from its checkpoints)."""
    return store_of(request).transition(job_id, ("failed", "cancelled"), "queued").public()


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(job_id: int, session: SessionDep, request: Request) -> StreamingResponse:
    """Server-Sent Events: ``progress`` (the job) whenever it changes, then ``end``."""
    store = store_of(request)
    store.job(job_id)  # 404 before streaming

    async def events() -> AsyncIterator[str]:
        last: dict[str, Any] | None = None
        quiet = 0
        while not await request.is_disconnected():
            job = store.job(job_id).public()
            if job != last:
                yield _sse("progress", job)
                last, quiet = job, 0
            elif (quiet := quiet + 1) % 40 == 0:
                yield ": keep-alive\n\n"  # proxies close streams silent for long
            if job["status"] in _TERMINAL:
                yield _sse("end", job)
                return
            await asyncio.sleep(0.4)

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def all_job_events(session: SessionDep, request: Request) -> StreamingResponse:
    """Server-Sent Events for the job list: ``job`` (one job) whenever any job changes.

    One stream for every job, because browsers allow only six connections per server over
    HTTP/1.1: a stream per running job would stall the page once a clerk queues several.
    """
    store = store_of(request)

    async def events() -> AsyncIterator[str]:
        seen: dict[int, dict[str, Any]] = {}
        quiet = 0
        while not await request.is_disconnected():
            changed = [j.public() for j in store.jobs() if seen.get(j.id) != j.public()]
            for job in changed:
                seen[job["id"]] = job
                yield _sse("job", job)
            quiet = 0 if changed else quiet + 1
            if quiet and quiet % 40 == 0:
                yield ": keep-alive\n\n"
            await asyncio.sleep(0.5)

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- minutes ---------------------------------------------------------------------------------


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
    try:
        minutes_from_dict(body.doc)
    except SpeechError as exc:
        raise HTTPException(400, str(exc)) from exc
    try:
        v = store.save_version(job_id, body.base_version, body.doc, session.user.name)
    except Conflict as exc:
        return JSONResponse(
            status_code=409, content={"detail": str(exc), "current": _minutes_view(store, job)}
        )
    return {"version": v.version, "author": v.author, "created_at": v.created_at}


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
            "remembered": _remember_voices(_settings(request), job_id, v.doc)}


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


def error_status(exc: ClerkError) -> int:
    """The HTTP status of a clerk error."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 400
