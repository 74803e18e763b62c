"""The gateway's client for the Rasa servers and the action server, with their up/down state.

Several Rasa processes can serve one gateway (``rasa.urls``; ``madoguchi serve`` starts
``rasa.processes`` of them): each resident is sent to one process chosen by a stable hash of
the sender id (:func:`shard`, the same in every gateway replica and in ``bench.load``), so one
resident's messages are handled in order by one process and Rasa's in-memory lock store
stays correct. If that process is down, the resident's messages go to the next process that
is up, and back to their own once the probe sees it again (docs/scaling.md says what this
means for the lock store).

State is kept from two sources: every chat request (a failure marks that process down at
once) and a background probe (which marks it up again when it answers). While no Rasa
process is up the gateway does not wait for one on each message: it answers from retrieval
(degraded mode) until the probe sees one back, then uses it again by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.http_lean import LeanHttp
from adapters.settings import RasaSettings

log = logging.getLogger(__name__)
CHANNEL = "/webhooks/madoguchi/webhook"


class RasaUnavailable(Exception):
    """Rasa did not answer usefully (down, timed out, error status, bad body)."""


class _NotDelivered(RasaUnavailable):
    """The request never reached the process (connection refused): safe to send elsewhere."""


def shard(sender: str, processes: int) -> int:
    """The index of the Rasa process that handles ``sender`` (0 ≤ index < ``processes``).

    blake2b of the sender id's UTF-8 bytes: stable across processes, restarts and machines
    (Python's ``hash()`` of a str is salted per process, so two gateway replicas would send
    one resident to two Rasa processes).
    """
    if processes <= 1:
        return 0
    digest = hashlib.blake2b(sender.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % processes


@dataclass
class ComponentState:
    """Whether a component answered its last probe or request, and since when."""

    name: str
    up: bool = False
    since: float = field(default_factory=time.time)
    detail: str = "not probed yet"

    def mark(self, up: bool, detail: str) -> None:
        if up != self.up:
            log.warning("%s is now %s (%s)", self.name, "up" if up else "down", detail)
            self.since = time.time()
        self.up, self.detail = up, detail

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "up" if self.up else "down",
            "since": round(self.since, 3),
            "detail": self.detail,
        }


@dataclass
class RasaProcess(ComponentState):
    """One Rasa server and its state."""

    url: str = ""
    answered: int = 0  # messages this gateway process got an answer for from it

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url} | super().as_dict() | {"answered": self.answered}


class RasaServers:
    """The Rasa processes together: ``up`` while at least one answers (the gateway then uses
    Rasa); in ``/api/health`` "up" only when all do ("partial" when some do)."""

    def __init__(self, urls: list[str]) -> None:
        self.processes = [RasaProcess(f"rasa {url}", url=url) for url in urls]

    @property
    def up(self) -> bool:
        return any(p.up for p in self.processes)

    @property
    def since(self) -> float:
        return max(p.since for p in self.processes)

    def as_dict(self) -> dict[str, Any]:
        up = sum(p.up for p in self.processes)
        total = len(self.processes)
        status = "up" if up == total else "down" if up == 0 else "partial"
        if total == 1:
            detail = self.processes[0].detail
        else:
            detail = f"{up} of {total} processes up"
        return {
            "status": status,
            "since": round(self.since, 3),
            "detail": detail,
            "url": self.processes[0].url,
            "processes": [p.as_dict() for p in self.processes],
        }


class RasaClient:
    """Sends messages to Rasa's REST channel and probes Rasa and the action server."""

    def __init__(self, settings: RasaSettings, http: httpx.AsyncClient | LeanHttp) -> None:
        self.settings = settings
        self.http = http
        self.rasa = RasaServers(settings.server_urls())
        self.actions = ComponentState("action_server")
        self._chat_urls: dict[str, httpx.URL] = {}

    def route(self, sender: str) -> list[RasaProcess]:
        """The processes to try for ``sender``, in order: its own if up, then the next ones
        that are up (its own is the one :func:`shard` names)."""
        processes = self.rasa.processes
        home = shard(sender, len(processes))
        ring = processes[home:] + processes[:home]
        return [p for p in ring if p.up]

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict]:
        """One dialogue turn through the resident's Rasa process (or the next one up).

        Raises:
            RasaUnavailable: no process is up, or the one that got the message did not
                answer with a JSON list within the timeout (the message is not sent to a
                second process then: the first may still be handling it).
        """
        body = {"sender": sender, "message": message, "metadata": metadata}
        for process in self.route(sender):
            try:
                return await self._send(process, body)
            except _NotDelivered:
                continue
        raise RasaUnavailable("no Rasa process is up")

    async def _send(self, process: RasaProcess, body: dict[str, Any]) -> list[dict]:
        try:
            response = await self.http.post(self._chat_url(process), json=body,
                                             timeout=self.settings.timeout_s)
            response.raise_for_status()
            messages = response.json()
        except httpx.ConnectError as exc:
            process.mark(False, f"{type(exc).__name__}: {exc}"[:200])
            raise _NotDelivered(str(exc)) from exc
        except (httpx.HTTPError, ValueError) as exc:
            process.mark(False, f"{type(exc).__name__}: {exc}"[:200])
            raise RasaUnavailable(str(exc)) from exc
        if not isinstance(messages, list):
            process.mark(False, "reply was not a list")
            raise RasaUnavailable("Rasa replied with something other than a list")
        process.mark(True, "answered")
        process.answered += 1
        return messages

    def _chat_url(self, process: RasaProcess) -> httpx.URL:
        # Parsed once per process, not on every message (httpx parses a str URL each time).
        url = self._chat_urls.get(process.url)
        if url is None:
            url = self._chat_urls[process.url] = httpx.URL(f"{process.url}{CHANNEL}")
        return url

    async def probe(self) -> None:
        """Check every Rasa process and the action server once and update their state."""
        await asyncio.gather(
            *(self._probe(p, f"{p.url}/") for p in self.rasa.processes),
            self._probe(self.actions, f"{self.settings.action_url.rstrip('/')}/health"),
        )

    async def _probe(self, state: ComponentState, url: str) -> None:
        try:
            response = await self.http.get(url, timeout=2.0)
            state.mark(response.status_code == 200, f"HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            state.mark(False, f"{type(exc).__name__} at {url}")

    async def probe_forever(self) -> None:
        """Probe at the configured interval until cancelled."""
        while True:
            await self.probe()
            await asyncio.sleep(self.settings.probe_interval_s)
