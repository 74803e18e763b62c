"""Resumable uploads of recordings: declare, append chunks at the server's offset, check type.

``POST /uploads`` declares name and size (0 bytes and over ``clerk.max_upload_bytes`` are
refused at once); each ``PUT /uploads/{id}?offset=N`` appends one chunk at exactly the offset
the server has (else 409 with the server's offset, which ``GET /uploads/{id}`` also reports).
The first chunk of a file without a known container signature, and the complete file, are
checked with ``speech.probe_audio`` (what ffmpeg can decode, not what the name says): a wrong
file is refused with 415 after its first chunk, not after gigabytes.

Storage: a declared upload is refused with 507 when the disk has less free space than its size
or when it would take the kept recordings over ``clerk.storage_quota_bytes``. A disk that fills
up anyway (other uploads, other programs) fails the chunk being written with 507: the file is
cut back to the bytes received before that chunk and the upload stays resumable at its offset.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from adapters.clerk.auth import SessionDep, settings_of, store_of
from adapters.clerk.errors import NotFound, StorageFull
from adapters.clerk.store import Session, Upload
from speech import EmptyAudioError, NotAudioError, probe_audio

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/clerk", tags=["clerk"])
# The disk (or the user's disk quota) is full; EFBIG: the file system's largest file.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _safe_name(filename: str) -> str:
    """The last path component, letters, digits, ``.-_`` and kana/kanji only, at most
    ``_MAX_NAME_BYTES`` in UTF-8 (file systems limit bytes, not characters), extension kept."""
    name = Path(filename.replace("\\", "/")).name
    name = re.sub(r"[^\w.\-ぁ-んァ-ヶー一-龯]", "_", name).strip("._") or "recording"
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, dot, ext = name, "", ""
    room = _MAX_NAME_BYTES - len(ext.encode()) - len(dot)
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip("._") or "recording"
    return stem + dot + ext


# Bytes of a stored file name (most file systems allow 255; room left for the extension).
_MAX_NAME_BYTES = 150


class NewUpload(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size: int


@router.post("/uploads", status_code=201)
def create_upload(body: NewUpload, session: SessionDep, request: Request) -> dict[str, Any]:
    """Declare a recording to upload; returns its id, the offset to start at and chunk size."""
    limits = settings_of(request).clerk
    if body.size <= 0:
        raise HTTPException(400, f"{body.filename}: the file is empty (0 bytes); choose a recording")
    if body.size > limits.max_upload_bytes:
        raise HTTPException(
            413,
            f"{body.filename} is {body.size} bytes; the limit is {limits.max_upload_bytes} bytes",
        )
    upload_dir = Path(settings_of(request).storage.data_dir) / "clerk" / "uploads"
    store = store_of(request)
    _check_room(store, limits.storage_quota_bytes, upload_dir, body)
    try:
        upload = store.add_upload(session.user, _safe_name(body.filename), body.size, upload_dir)
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        raise StorageFull(f"the server's storage is full ({exc.strerror}); nothing was stored. "
                          "Ask the administrator to free disk space, then upload again") from exc
    return {"id": upload.id, "offset": 0, "size": body.size, "chunk_bytes": limits.max_chunk_bytes}


def _check_room(store: Any, quota: int, upload_dir: Path, body: NewUpload) -> None:
    """``StorageFull`` unless the quota and the disk both have room for ``body.size`` bytes."""
    if quota:
        used = store.upload_bytes()
        if used + body.size > quota:
            raise StorageFull(
                f"the storage quota for recordings is used up: {used} of {quota} bytes are "
                f"taken and {body.filename} needs {body.size}; delete old recordings or raise "
                "MADOGUCHI_CLERK__STORAGE_QUOTA_BYTES"
            )
    existing = next(p for p in (upload_dir, *upload_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if body.size > free:
        raise StorageFull(
            f"the server's disk has {free} bytes free and {body.filename} needs {body.size}; "
            "ask the administrator to free disk space, then upload again"
        )


def own_upload(store: Any, upload_id: str, session: Session) -> Upload:
    u: Upload = store.upload(upload_id)
    if u.user_id != session.user.id:
        raise NotFound(f"no upload {upload_id!r}")  # others' uploads are not revealed
    return u


@router.get("/uploads/{upload_id}")
def upload_status(upload_id: str, session: SessionDep, request: Request) -> dict[str, Any]:
    """Where an upload stands: resume by sending the chunk that starts at ``offset``."""
    u = own_upload(store_of(request), upload_id, session)
    return {"id": u.id, "filename": u.filename, "offset": u.received, "size": u.size,
            "status": u.status, "chunk_bytes": settings_of(request).clerk.max_chunk_bytes}


@router.put("/uploads/{upload_id}")
async def upload_chunk(
    upload_id: str, offset: int, session: SessionDep, request: Request
) -> dict[str, Any]:
    """Append one chunk at ``offset``; the last one is checked to be audio."""
    store = store_of(request)
    u = own_upload(store, upload_id, session)
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
    max_s = settings_of(request).clerk.max_recording_s
    if received < u.size:
        if u.received == 0:
            # Refuse a wrong file, or one whose header claims more than the longest recording
            # accepted, after its first chunk, not after gigabytes. A known container may not
            # be readable from its first chunk alone (MP4 keeps its index at the end).
            partial_ok = _looks_like_media(u.path)
            await _probe_or_reject(store, u.id, u.filename, u.path, received, max_s, partial_ok)
        store.set_upload(upload_id, received, "receiving")
        return {"id": upload_id, "offset": received, "size": u.size, "complete": False}
    info = await _probe_or_reject(store, u.id, u.filename, u.path, received, max_s)
    store.set_upload(upload_id, received, "complete")
    return {"id": upload_id, "offset": received, "size": u.size, "complete": True,
            "duration": info.duration}


# Uploads with a chunk being written right now (this process): chunks of one upload are
# appended one at a time, never interleaved.
_WRITING: set[str] = set()


async def _append(request: Request, u: Upload) -> int:
    """Append the request body at ``u.received``; return the new size. Over-long: 413, undone.

    Raises:
        StorageFull: the disk filled up while writing; the chunk is undone (resume at the
            same offset once there is room).
    """
    received = u.received
    try:
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
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        _cut_back(u.path, u.received)
        log.error("upload %s: storage full at byte %d: %s", u.id, received, exc.strerror)
        raise StorageFull(
            f"the server's storage is full ({exc.strerror}); this chunk of {u.filename} was not "
            f"kept. The {u.received} bytes received before it are safe: resume at offset "
            f"{u.received} once the administrator has freed disk space"
        ) from exc
    return received


def _cut_back(path: Path, size: int) -> None:
    """Drop whatever part of a failed chunk reached the file."""
    try:
        if path.is_file() and path.stat().st_size > size:
            os.truncate(path, size)
    except OSError as exc:  # the disk is in trouble; the offset in the store is what counts
        log.warning("could not cut %s back to %d bytes: %s", path, size, exc)


# Container signatures ffmpeg reads (WAV/AVI, MP3, FLAC, Ogg, Matroska/WebM, MP4/M4A/MOV,
# AIFF, WMA/ASF, AMR). A first chunk without one is probed as it is before more is accepted.
_MAGIC = (b"RIFF", b"ID3", b"fLaC", b"OggS", b"\x1aE\xdf\xa3", b"FORM", b"0&\xb2u", b"#!AMR")


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(12)
    mpeg_frame = len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return head.startswith(_MAGIC) or head[4:8] == b"ftyp" or mpeg_frame


async def _probe_or_reject(
    store: Any, upload_id: str, filename: str, path: Path, received: int, max_seconds: float,
    unreadable_ok: bool = False,
) -> Any:
    """``probe_audio`` the (possibly partial) file; drop it and answer 415 if it is not audio
    (unless ``unreadable_ok``), 413 if it is longer than ``max_seconds``.

    The duration comes from the container header, before anything is decoded: a small
    file of compressed silence, or a header that claims days, is refused here rather than
    decoded for hours by the worker.
    """
    try:
        info = await run_in_threadpool(probe_audio, path)
    except (NotAudioError, EmptyAudioError) as exc:
        if unreadable_ok:
            return None
        _reject(store, upload_id, path, received)
        raise HTTPException(415, f"{filename} is not a recording we can read: {exc}") from exc
    if not info.duration <= max_seconds:  # NaN too
        _reject(store, upload_id, path, received)
        raise HTTPException(
            413,
            f"{filename} is {_hms(info.duration)} long by its header; recordings of at most "
            f"{_hms(max_seconds)} are accepted (MADOGUCHI_CLERK__MAX_RECORDING_S)",
        )
    return info


def _reject(store: Any, upload_id: str, path: Path, received: int) -> None:
    store.set_upload(upload_id, received, "rejected")
    path.unlink(missing_ok=True)


def _hms(seconds: float) -> str:
    if seconds != seconds or seconds > 1e9:  # NaN or absurd
        return f"{seconds:g} s"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
