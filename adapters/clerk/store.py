"""The clerk app's state in one SQLite file: users, sessions, uploads, jobs, minutes versions.

SQLite is enough for one town hall: writes are single rows, WAL lets a separate
``madoguchi worker`` process and the gateway share the file. Calls are synchronous (short)
behind a lock, safe from the event loop and worker threads alike. Nothing here knows HTTP.

Passwords are hashed with the standard library's scrypt (no native wheel to install); session
tokens are stored only as an HMAC under the session secret, so a copied database file does not
hand out live sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.clerk.errors import ClerkError, Conflict, NotFound

ROLES = ("clerk", "admin")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, pw_hash TEXT NOT NULL,
    role TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, csrf TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, filename TEXT NOT NULL, size INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0, path TEXT NOT NULL, status TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, upload_id TEXT NOT NULL, user_id INTEGER NOT NULL,
    title TEXT NOT NULL, audio TEXT NOT NULL, status TEXT NOT NULL, done REAL NOT NULL DEFAULT 0,
    total REAL NOT NULL DEFAULT 0, error TEXT, worker TEXT, created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    job_id INTEGER NOT NULL, version INTEGER NOT NULL, doc BLOB NOT NULL, author TEXT NOT NULL,
    created_at REAL NOT NULL, final INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (job_id, version)
);
"""

# scrypt cost: 16 MiB of memory and ~50 ms per login; stored with the hash so it can grow.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex) of ``password`` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from ``hash_password`` (constant-time compare)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class Upload:
    id: str
    user_id: int
    filename: str
    size: int
    received: int
    path: Path
    status: str  # receiving | complete | queued


@dataclass(frozen=True)
class Job:
    id: int
    upload_id: str
    user_id: int
    title: str
    audio: Path
    status: str  # queued | running | done | failed | cancelled
    done: float
    total: float
    error: str | None
    created_at: float
    updated_at: float
    worker: str | None = None  # who claimed it (``host:pid:thread``), while running

    def public(self) -> dict[str, Any]:
        """What the API shows of a job."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "done": round(self.done, 2),
            "total": round(self.total, 2),
            "error": self.error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Version:
    job_id: int
    version: int
    doc: dict[str, Any]
    author: str
    created_at: float
    final: bool


class ClerkStore:
    """One SQLite connection shared by the clerk app's tables."""

    def __init__(self, path: Path, secret: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._secret = secret
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: other processes wait, nobody reads half)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        if not _storable(args):
            return None  # an id SQLite cannot even hold names no row
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        if not _storable(args):
            return []
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- users and sessions ---------------------------------------------------------------

    def add_user(self, name: str, password: str, role: str) -> User:
        """Create a user, or reset the password and role of an existing one."""
        name = name.strip()
        if not name or len(name) > 64:
            raise ClerkError(f"user name must be 1–64 characters, got {name!r}")
        if role not in ROLES:
            raise ClerkError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if len(password) < 8:
            raise ClerkError(f"password must be at least 8 characters, got {len(password)}")
        pw = hash_password(password)
        with self.tx() as db:
            db.execute(
                "INSERT INTO users (name, pw_hash, role, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET pw_hash = excluded.pw_hash, role = excluded.role",
                (name, pw, role, time.time()),
            )
        row = self._one("SELECT id, name, role FROM users WHERE name = ?", name)
        assert row is not None
        return User(row["id"], row["name"], row["role"])

    def users(self) -> list[User]:
        return [User(r["id"], r["name"], r["role"]) for r in self._all("SELECT * FROM users")]

    def authenticate(self, name: str, password: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE name = ?", name.strip())
        if row is None:
            verify_password(password, hash_password("timing"))  # same cost for unknown names
            return None
        if not verify_password(password, row["pw_hash"]):
            return None
        return User(row["id"], row["name"], row["role"])

    def _token_hash(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def open_session(self, user: User, ttl_s: float) -> tuple[str, Session]:
        """A new session: (the cookie token, the session with its CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = time.time() + ttl_s
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                (self._token_hash(token), user.id, csrf, expires),
            )
        return token, Session(user, csrf, expires)

    def session(self, token: str) -> Session | None:
        row = self._one(
            "SELECT s.csrf, s.expires_at, u.id, u.name, u.role FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            self._token_hash(token),
        )
        if row is None or row["expires_at"] < time.time():
            return None
        return Session(User(row["id"], row["name"], row["role"]), row["csrf"], row["expires_at"])

    def close_session(self, token: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (self._token_hash(token),))

    # --- uploads -----------------------------------------------------------------------------

    def add_upload(self, user: User, filename: str, size: int, directory: Path) -> Upload:
        """A new, empty upload stored at ``directory/<id>/<filename>``."""
        upload_id = secrets.token_hex(12)
        path = directory / upload_id / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        with self.tx() as db:
            db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, 0, ?, 'receiving', ?)",
                (upload_id, user.id, filename, size, str(path), time.time()),
            )
        return self.upload(upload_id)

    def upload(self, upload_id: str) -> Upload:
        row = self._one("SELECT * FROM uploads WHERE id = ?", upload_id)
        if row is None:
            raise NotFound(f"no upload {upload_id!r}")
        return Upload(
            row["id"], row["user_id"], row["filename"], row["size"], row["received"],
            Path(row["path"]), row["status"],
        )

    def upload_bytes(self) -> int:
        """Bytes declared by the uploads kept on disk (all but the rejected ones)."""
        row = self._one("SELECT COALESCE(SUM(size), 0) AS n FROM uploads WHERE status != 'rejected'")
        return int(row["n"]) if row else 0

    def set_upload(self, upload_id: str, received: int, status: str) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE uploads SET received = ?, status = ? WHERE id = ?",
                (received, status, upload_id),
            )

    # --- jobs --------------------------------------------------------------------------------

    def _job(self, row: sqlite3.Row) -> Job:
        return Job(
            row["id"], row["upload_id"], row["user_id"], row["title"], Path(row["audio"]),
            row["status"], row["done"], row["total"], row["error"], row["created_at"],
            row["updated_at"], row["worker"],
        )

    def add_job(self, upload: Upload, title: str) -> Job:
        now = time.time()
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO jobs (upload_id, user_id, title, audio, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                (upload.id, upload.user_id, title, str(upload.path), now, now),
            )
            db.execute("UPDATE uploads SET status = 'queued' WHERE id = ?", (upload.id,))
            job_id = cur.lastrowid
        assert job_id is not None
        return self.job(job_id)

    def job(self, job_id: int) -> Job:
        row = self._one("SELECT * FROM jobs WHERE id = ?", job_id)
        if row is None:
            raise NotFound(f"no minutes job {job_id}")
        return self._job(row)

    def jobs(self) -> list[Job]:
        return [self._job(r) for r in self._all("SELECT * FROM jobs ORDER BY id DESC")]

    def update_job(self, job_id: int, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as db:
            db.execute(
                f"UPDATE jobs SET {cols}, updated_at = ? WHERE id = ?",  # noqa: S608 — our keys
                (*fields.values(), time.time(), job_id),
            )

    def claim_job(self, worker: str) -> Job | None:
        """Atomically take the oldest queued job for ``worker``."""
        with self.tx() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', worker = ?, error = NULL, updated_at = ? "
                "WHERE id = ?",
                (worker, time.time(), row["id"]),
            )
        return self.job(row["id"])

    def transition(self, job_id: int, allowed: tuple[str, ...], status: str) -> Job:
        """Move a job to ``status`` if it is in one of ``allowed``; else ``Conflict``."""
        if not _storable((job_id,)):
            raise NotFound(f"no minutes job {job_id}")
        with self.tx() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound(f"no minutes job {job_id}")
            if row["status"] not in allowed:
                raise Conflict(
                    f"job {job_id} is {row['status']}; this needs it to be {' or '.join(allowed)}"
                )
            db.execute(
                "UPDATE jobs SET status = ?, updated_at = ?"
                + (", error = NULL, done = 0" if status == "queued" else "")
                + " WHERE id = ?",
                (status, time.time(), job_id),
            )
        return self.job(job_id)

    # --- minutes versions --------------------------------------------------------------------

    def _version(self, row: sqlite3.Row) -> Version:
        return Version(
            row["job_id"], row["version"], _unpack(row["doc"]), row["author"],
            row["created_at"], bool(row["final"]),
        )

    def latest(self, job_id: int) -> Version:
        row = self._one(
            "SELECT * FROM versions WHERE job_id = ? ORDER BY version DESC LIMIT 1", job_id
        )
        if row is None:
            raise NotFound(f"minutes {job_id} have no transcript yet")
        return self._version(row)

    def version(self, job_id: int, version: int) -> Version:
        row = self._one("SELECT * FROM versions WHERE job_id = ? AND version = ?", job_id, version)
        if row is None:
            raise NotFound(f"minutes {job_id} have no version {version}")
        return self._version(row)

    def versions(self, job_id: int) -> list[dict[str, Any]]:
        return [
            {"version": r["version"], "author": r["author"], "created_at": r["created_at"],
             "final": bool(r["final"])}
            for r in self._all(
                "SELECT version, author, created_at, final FROM versions WHERE job_id = ? "
                "ORDER BY version DESC",
                job_id,
            )
        ]

    def save_version(
        self, job_id: int, base: int | None, doc: dict[str, Any], author: str, final: bool = False
    ) -> Version:
        """Add version ``base + 1``; ``Conflict`` if someone saved after ``base`` or it is final.

        ``base`` None is the worker's first version (only allowed when there is none).
        Autosave coalescing: when the same author saves again within ``COALESCE_S`` on top of
        their own (non-first, non-final) version, that version row is replaced by the new one,
        so history keeps about one version per minute of editing instead of one per pause.
        The number still goes up, so others' stale saves are still caught.
        """
        now = time.time()
        with self.tx() as db:
            row = db.execute(
                "SELECT version, final, author, created_at FROM versions WHERE job_id = ? "
                "ORDER BY version DESC LIMIT 1",
                (job_id,),
            ).fetchone()
            current = row["version"] if row else 0
            if row is not None and row["final"]:
                raise Conflict(f"minutes {job_id} are finalized at version {current}; no more edits")
            if base is not None and base != current:
                raise Conflict(
                    f"minutes {job_id} were saved as version {current} since your version {base}"
                )
            db.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, current + 1, _pack(doc), author, now, int(final)),
            )
            if (
                row is not None and not final and current > 1 and row["author"] == author
                and now - row["created_at"] < COALESCE_S
            ):
                db.execute(
                    "DELETE FROM versions WHERE job_id = ? AND version = ?", (job_id, current)
                )
        return self.version(job_id, current + 1)


# Saves by one author closer together than this are one version in the history.
COALESCE_S = 60.0


def _storable(args: tuple[Any, ...]) -> bool:
    """Whether every int fits SQLite's 64-bit INTEGER (a URL may carry any number: ``/jobs/10**30``
    made sqlite3 raise OverflowError, a 500)."""
    return all(-(2**63) <= a < 2**63 for a in args if isinstance(a, int))


def _pack(doc: dict[str, Any]) -> bytes:
    """Versions are stored zlib-compressed: a long session's words are megabytes of JSON."""
    return zlib.compress(json.dumps(doc, ensure_ascii=False).encode(), 6)


def _unpack(stored: bytes | str) -> dict[str, Any]:
    text = zlib.decompress(stored).decode() if isinstance(stored, bytes) else stored
    return json.loads(text)  # type: ignore[no-any-return]
