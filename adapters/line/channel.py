"""The LINE channel assembled from settings: client, state, bot; built in the gateway's lifespan.

Cheap to build (house rule): the facility list is read on first use, Whisper is loaded on
the first voice message (then kept), so a gateway without LINE configured pays nothing.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx

from adapters.chat import ChatService
from adapters.http_lean import LeanHttp
from adapters.line.client import LineClient
from adapters.line.dedupe import SeenEvents
from adapters.line.handlers import LineBot
from adapters.line.store import FailureLog, LineStore, UserLanguages
from adapters.ratelimit import TokenBuckets
from adapters.settings import Settings
from retrieval import Facilities, KnowledgeBase, KnowledgeBaseError, Retriever, load_facilities

log = logging.getLogger(__name__)
FACILITIES_FILE = "facilities.yml"


class LineChannel:
    """Everything the LINE webhook needs, with the state it keeps."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient | LeanHttp,
        chat: ChatService,
        retriever: Retriever,
        facilities_path: Path | None = None,
    ) -> None:
        self.settings = settings.line
        self.store = LineStore(settings.storage.data_dir / "line.sqlite3")
        self.failures = FailureLog(self.store)
        self.users = UserLanguages(self.store)
        self.client = LineClient(settings.line, http)
        self._retriever = retriever
        self._facilities_path = facilities_path or settings.retrieval.kb_path / FACILITIES_FILE
        self._facilities: Facilities | None = None
        self._speech = settings.speech
        self._transcriber = None
        self._lock = threading.Lock()
        self.bot = LineBot(
            settings=settings.line,
            client=self.client,
            chat=chat,
            kb=self._kb,
            facilities=self.facilities,
            transcribe=self.transcribe,
            seen=SeenEvents(self.store, settings.line.dedupe_ttl_s),
            users=self.users,
            failures=self.failures,
            max_message_chars=settings.gateway.max_message_chars,
            limiter=(
                TokenBuckets(settings.line.rate_per_user, max(1, settings.line.rate_burst_per_user))
                if settings.line.rate_per_user > 0
                else None
            ),
        )

    @property
    def configured(self) -> bool:
        return bool(self.settings.channel_secret.get_secret_value())

    def _kb(self) -> KnowledgeBase:
        return self._retriever.kb

    def facilities(self) -> Facilities | None:
        """The facility list, read on first use; None (logged) when missing or invalid."""
        if self._facilities is None:
            if not self._facilities_path.is_file():
                log.warning(
                    "no facility list at %s; location messages get a notice", self._facilities_path
                )
                return None
            try:
                self._facilities = load_facilities(self._facilities_path)
            except KnowledgeBaseError as exc:
                log.error("facility list unusable: %s", exc)
                return None
        return self._facilities

    def transcribe(self, path: Path) -> str:
        """Whisper on a voice message (model loaded on first use, in this worker thread)."""
        from speech import Transcriber

        with self._lock:
            if self._transcriber is None:
                transcriber = Transcriber(self._speech)
                transcriber.warm_up()
                self._transcriber = transcriber
        transcript = self._transcriber.transcribe(path)
        return " ".join(s.text for s in transcript.segments).strip()

    def close(self) -> None:
        self.store.close()
