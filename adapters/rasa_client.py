"""The gateway's client for the Rasa server and action server, with their up/down state.

State is kept from two sources: every chat request (a failure marks Rasa down at once) and
a background probe (which marks it up again when it answers). While Rasa is down the
gateway does not wait for it on each message: it answers from retrieval (degraded mode)
until the probe sees Rasa back, then uses it again by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.settings import RasaSettings

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer usefully (down, timed out, error status, bad body)."""


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


class RasaClient:
    """Sends messages to Rasa's REST channel and probes Rasa and the action server."""

    def __init__(self, settings: RasaSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.rasa = ComponentState("rasa")
        self.actions = ComponentState("action_server")

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict]:
        """One dialogue turn through Rasa's REST channel.

        Raises:
            RasaUnavailable: anything but a JSON list from Rasa within the timeout.
        """
        url = f"{self.settings.url.rstrip('/')}/webhooks/madoguchi/webhook"
        body = {"sender": sender, "message": message, "metadata": metadata}
        try:
            response = await self.http.post(url, json=body, timeout=self.settings.timeout_s)
            response.raise_for_status()
            messages = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.rasa.mark(False, f"{type(exc).__name__}: {exc}"[:200])
            raise RasaUnavailable(str(exc)) from exc
        if not isinstance(messages, list):
            self.rasa.mark(False, "reply was not a list")
            raise RasaUnavailable("Rasa replied with something other than a list")
        self.rasa.mark(True, "answered")
        return messages

    async def probe(self) -> None:
        """Check both servers once and update their state."""
        await asyncio.gather(
            self._probe(self.rasa, f"{self.settings.url.rstrip('/')}/"),
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
