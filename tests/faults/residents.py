"""Residents who keep asking through ``/api/chat`` from threads, and small waiting helpers,
for the fault tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

# Questions the sample KB answers; each reply must carry the entry retrieval picks for it,
# whether Rasa (through the action server) or the degraded path produced it.
QUESTIONS = ("保育園の申し込みはいつまでですか", "住民票はどこで取れますか")
TIMEOUT_S = 240.0  # for anything that waits on a process starting on a loaded 2-core machine


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.1)


def health(stack) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each component's status as the gateway sees it."""
    body = httpx.get(f"{stack.gateway_url}/api/health", timeout=30).json()
    return {name: c["status"] for name, c in body["components"].items()}


@dataclass(frozen=True)
class Reply:
    """What one resident's message got."""

    sent_at: float
    sender: str
    question: str
    status: int | None
    mode: str | None
    entry_id: str | None
    text: str
    error: str | None


class Residents:
    """``count`` residents, each a thread sending one of ``QUESTIONS`` after another (with a
    short pause) until stopped; every reply is kept."""

    def __init__(self, gateway_url: str, count: int = 3, pause_s: float = 0.1) -> None:
        self.url = f"{gateway_url}/api/chat"
        self.pause_s = pause_s
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._resident, args=(f"resident-{i}-{time.time_ns()}", i),
                             daemon=True)
            for i in range(count)
        ]

    def __enter__(self) -> Residents:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)

    def _resident(self, sender: str, offset: int) -> None:
        with httpx.Client(timeout=120) as client:
            n = offset
            while not self._stop.is_set():
                question = QUESTIONS[n % len(QUESTIONS)]
                n += 1
                self._record(client, sender, question)
                self._stop.wait(self.pause_s)

    def _record(self, client: httpx.Client, sender: str, question: str) -> None:
        sent = time.monotonic()
        try:
            r = client.post(self.url, json={"sender": sender, "message": question})
        except httpx.HTTPError as exc:
            reply = Reply(sent, sender, question, None, None, None, "", f"{type(exc).__name__}: {exc}")
        else:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else []
            messages = body if isinstance(body, list) else []
            customs = [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]
            reply = Reply(
                sent, sender, question, r.status_code, r.headers.get("X-Madoguchi-Mode"),
                next((c.get("entry_id") for c in customs if c.get("entry_id")), None),
                "\n".join(m.get("text") or "" for m in messages), None,
            )
        with self._lock:
            self.replies.append(reply)

    def since(self, t: float, mode: str | None = None) -> list[Reply]:
        """Replies to messages sent at or after ``t`` (``time.monotonic()``), of one mode."""
        with self._lock:
            return [r for r in self.replies if r.sent_at >= t and (mode is None or r.mode == mode)]

    def wait_for(self, n: int, since: float, mode: str, what: str) -> None:
        wait_until(lambda: len(self.since(since, mode)) >= n, what)
