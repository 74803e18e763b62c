"""What the LINE channel does with each webhook event, after the webhook has answered 200.

``LineBot.process(events)`` runs as a background task. For each event: drop it if its
``webhookEventId`` was seen before (redelivery), parse it with line-bot-sdk's models (an
unknown type is logged and skipped), act on it, and deliver the answer — with the reply
token while it is fresh, else (or when the reply fails) by push with a retry key derived
from the event id. An answer that still cannot be delivered goes to the failure log with
its event; no exception escapes, so one bad event never stops the others.

Text and postbacks go to ``ChatService.handle`` (Rasa, or retrieval when Rasa is down) with
the LINE user id as sender and the user's stored language as ``metadata.lang``; follows get
a greeting in the language of the user's LINE profile; locations get the nearest shelters
and facilities; voice messages are transcribed with Whisper and then answered like text.
Message text is never logged at INFO.

Hostile input: an event is processed at most once — by its ``webhookEventId``, or by a hash
of the whole event when it has none — and an event older than the dedupe window is dropped,
since its id may have been forgotten (a replayed body is then still refused). Messages and
postbacks are rate-limited per LINE user (``line.rate_per_user``; a voice message costs
``VOICE_COST`` tokens, Whisper being the expensive part): past the limit the user is told once
to wait and further messages are dropped. Voice messages longer than ``line.max_voice_s``
(from the container header) are not transcribed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from linebot.v3.messaging import Message
from linebot.v3.webhooks import (
    AudioMessageContent,
    Event,
    FollowEvent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from adapters.chat import ChatService
from adapters.line import messages as build
from adapters.line.client import LineClient, LineError, retry_key_for
from adapters.line.dedupe import SeenEvents
from adapters.line.store import Failure, FailureLog, UserLanguages
from adapters.ratelimit import TokenBuckets
from adapters.settings import LineSettings
from retrieval import Facilities, KnowledgeBase, normalize_language_code
from speech import probe_audio
from speech.errors import SpeechError

log = logging.getLogger(__name__)
DEFAULT_LANG = "ja"
# Tokens a voice message takes from its sender's bucket (a text takes 1).
VOICE_COST = 4.0


class VoiceTooLong(SpeechError):
    """A voice message longer than ``line.max_voice_s``."""


class LineBot:
    """Turns LINE webhook events into answers and delivers them."""

    def __init__(
        self,
        settings: LineSettings,
        client: LineClient,
        chat: ChatService,
        kb: Callable[[], KnowledgeBase],
        facilities: Callable[[], Facilities | None],
        transcribe: Callable[[Path], str] | None,
        seen: SeenEvents,
        users: UserLanguages,
        failures: FailureLog,
        max_message_chars: int = 2000,
        limiter: TokenBuckets | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.chat = chat
        self.kb = kb
        self.facilities = facilities
        self.transcribe = transcribe
        self.seen = seen
        self.users = users
        self.failures = failures
        self.max_message_chars = max_message_chars
        self.limiter = limiter
        # User → when their "please wait" notice runs out (one notice per throttled stretch).
        self._told: dict[str, float] = {}
        # Whisper on 2 cores: one voice message at a time.
        self._speech_lock = asyncio.Lock()

    async def process(self, events: list[Any]) -> None:
        """Handle every event of one webhook body, in order; never raises."""
        for raw in events:
            try:
                await self.handle(raw)
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the rest
                log.exception("LINE event %s failed", _event_id(raw))
                self._keep(raw, None, [], f"{type(exc).__name__}: {exc}")

    async def handle(self, raw: Any) -> None:
        """Handle one event (a dict from the webhook body)."""
        if not isinstance(raw, dict):
            log.warning("skipping a webhook event that is not an object (%s)", type(raw).__name__)
            return
        event_id = _event_id(raw)
        if _stale(raw, self.settings.dedupe_ttl_s):
            log.warning(
                "skipping event %s: older than the %.0f s dedupe window (a replay?)",
                event_id, self.settings.dedupe_ttl_s,
            )
            return
        if not self.seen.first_time(event_id or _fingerprint(raw)):
            context = raw.get("deliveryContext")
            redelivery = context.get("isRedelivery") if isinstance(context, dict) else None
            log.info("skipping event %s: already processed (isRedelivery=%s)", event_id, redelivery)
            return
        try:
            event = Event.from_dict(raw)
        # line-bot-sdk raises KeyError for an event without "type", Type/AttributeError for
        # fields of the wrong shape: all are events we cannot handle, not failures.
        except (ValueError, ValidationError, KeyError, TypeError, AttributeError) as exc:
            # The parser's message quotes the event (message text included): DEBUG only.
            log.info("skipping event %s of unsupported type %r", event_id, raw.get("type"))
            log.debug("event %s not parsed: %s", event_id, exc)
            return
        log.info("LINE %s event %s from %s", raw.get("type"), event_id, _source_id(event))
        if isinstance(event, MessageEvent):
            await self._on_message(event, raw)
        elif isinstance(event, PostbackEvent):
            await self._on_postback(event, raw)
        elif isinstance(event, FollowEvent):
            await self._on_follow(event, raw)
        elif isinstance(event, UnfollowEvent):
            log.info("user %s unfollowed", _source_id(event))
        else:
            log.info("event type %r needs no answer; skipped", raw.get("type"))

    # -- events -------------------------------------------------------------------------------

    async def _on_message(self, event: MessageEvent, raw: dict[str, Any]) -> None:
        content = event.message
        if not isinstance(event.source, UserSource) and not self.settings.answer_in_groups:
            log.info(
                "message in a %s chat not answered (answer_in_groups is off)",
                raw["source"].get("type"),
            )
            return
        if isinstance(content, StickerMessageContent):
            log.info("sticker not answered")
            return
        cost = VOICE_COST if isinstance(content, AudioMessageContent) else 1.0
        if not await self._within_rate(event, raw, cost):
            return
        if isinstance(content, TextMessageContent):
            answer = await self._ask(event, content.text)
        elif isinstance(content, LocationMessageContent):
            answer = await self._nearby(event, content.latitude, content.longitude)
        elif isinstance(content, AudioMessageContent):
            answer = await self._voice(event, content.id)
        else:
            answer = build.plain("unsupported", await self._lang(event))
        await self.deliver(event, raw, answer)

    async def _on_postback(self, event: PostbackEvent, raw: dict[str, Any]) -> None:
        if not await self._within_rate(event, raw, 1.0):
            return
        data = event.postback.data or ""
        if data.startswith(build.LANG_POSTBACK):
            lang = normalize_language_code(data[len(build.LANG_POSTBACK) :]) or DEFAULT_LANG
            user = _user_id(event)
            if user:
                self.users.set(user, lang)
            await self.deliver(event, raw, self._greeting(lang))
            return
        await self.deliver(event, raw, await self._ask(event, data))

    async def _on_follow(self, event: FollowEvent, raw: dict[str, Any]) -> None:
        user = _user_id(event)
        lang = DEFAULT_LANG
        if user:
            profile = await self.client.profile(user)
            code = (
                normalize_language_code(profile.language) if profile and profile.language else None
            )
            lang = code or DEFAULT_LANG
            self.users.set(user, lang)
        await self.deliver(event, raw, self._greeting(lang))

    async def _within_rate(self, event: Any, raw: dict[str, Any], cost: float) -> bool:
        """Take ``cost`` from the sender's bucket; if empty, tell them once to wait, and False."""
        who = _user_id(event) or _source_id(event)
        if self.limiter is None or not who:
            return True
        wait = self.limiter.take(who, cost)
        if wait <= 0:
            return True
        now = time.monotonic()
        log.info("LINE user %s over the rate limit; event %s dropped", who, _event_id(raw))
        if self._told.get(who, 0.0) > now:
            return False
        if len(self._told) > 10_000:
            self._told = {u: t for u, t in self._told.items() if t > now}
        self._told[who] = now + wait
        lang = await self._lang(event) or DEFAULT_LANG
        await self.deliver(event, raw, build.plain("slow_down", lang))
        return False

    # -- answers ------------------------------------------------------------------------------

    async def _ask(self, event: Any, text: str) -> list[Message]:
        if not text.strip():  # an empty postback: nothing to search for (retrieval refuses it)
            return build.plain("unsupported", await self._lang(event) or DEFAULT_LANG)
        # A lone surrogate (JSON "\ud800") breaks the language detector: replace it.
        text = text.encode("utf-8", "replace").decode("utf-8")
        user = _user_id(event)
        loading = None
        if user and isinstance(event.source, UserSource):
            # The animation is started alongside the answer, not before it (one LINE round
            # trip less per message), and is sure to have started before the answer is sent.
            loading = asyncio.create_task(
                self.client.start_loading(user, self.settings.loading_seconds)
            )
        try:
            lang = await self._lang(event)
            metadata: dict[str, Any] = {"channel": "line", **({"lang": lang} if lang else {})}
            sender = _source_id(event) or "line-anonymous"
            reply = await self.chat.handle(sender, text[: self.max_message_chars], metadata)
        finally:
            if loading is not None:
                await loading
        return build.from_chat_reply(reply, lean=self.settings.lean_message_models)

    async def _nearby(self, event: MessageEvent, lat: float, lon: float) -> list[Message]:
        lang = await self._lang(event) or DEFAULT_LANG
        facilities = self.facilities()
        if facilities is None:
            return build.plain("no_facilities", lang)
        shelters = facilities.nearest(lat, lon, types=("shelter",), k=3)
        others = facilities.nearest(
            lat, lon, types=("hospital", "city_office", "tourist_info"), k=2
        )
        return build.nearby(lang, shelters, others)

    async def _voice(self, event: MessageEvent, message_id: str) -> list[Message]:
        lang = await self._lang(event) or DEFAULT_LANG
        if self.transcribe is None:
            return build.plain("unsupported", lang)
        user = _user_id(event)
        if user and isinstance(event.source, UserSource):
            await self.client.start_loading(user, 60)
        try:
            audio = await self.client.content(message_id)
            async with self._speech_lock:
                transcript = await run_in_threadpool(self._transcribe_bytes, audio)
        except (LineError, SpeechError) as exc:
            log.warning("voice message %s not transcribed: %s", message_id, exc)
            return build.plain("not_heard", lang)
        log.info("voice message %s transcribed (%d characters)", message_id, len(transcript))
        if not transcript:
            return build.plain("not_heard", lang)
        answer = await self._ask(event, transcript)
        return build.with_echo(build.transcript_echo(transcript, lang), answer)

    def _transcribe_bytes(self, audio: bytes) -> str:
        if self.transcribe is None:
            return ""
        with tempfile.TemporaryDirectory(prefix="madoguchi-line-") as tmp:
            path = Path(tmp) / "voice"  # LINE sends m4a; let the decoder probe the content
            path.write_bytes(audio)
            seconds = probe_audio(path).duration  # the header, before anything is decoded
            if seconds > self.settings.max_voice_s:
                raise VoiceTooLong(
                    f"voice message of {seconds:.0f} s; at most {self.settings.max_voice_s:.0f} s "
                    "are transcribed"
                )
            return self.transcribe(path).strip()

    def _greeting(self, lang: str) -> list[Message]:
        return build.greeting(lang, build.starter_questions(self.kb(), lang))

    async def _lang(self, event: Any) -> str | None:
        """The user's stored language; looked up in their profile (once) when unknown."""
        user = _user_id(event)
        if not user:
            return None
        lang = self.users.get(user)
        if lang:
            return lang
        profile = await self.client.profile(user)
        code = normalize_language_code(profile.language) if profile and profile.language else None
        if code:
            self.users.set(user, code)
        return code

    # -- delivery -----------------------------------------------------------------------------

    async def deliver(self, event: Any, raw: dict[str, Any], answer: list[Message]) -> None:
        """Reply while the token is fresh, else push (retried); keep what cannot be sent."""
        if not answer:
            return
        token = getattr(event, "reply_token", None)
        age_s = time.time() - (event.timestamp or 0) / 1000
        if token and age_s < self.settings.reply_token_ttl_s:
            try:
                await self.client.reply(token, answer)
                return
            except LineError as exc:
                log.warning("reply for event %s failed (%s); pushing instead", _event_id(raw), exc)
        else:
            log.info("reply token of event %s is %.0fs old; pushing instead", _event_id(raw), age_s)
        target = _source_id(event)
        if not target:
            self._keep(raw, None, answer, "no reply token and no user, group or room to push to")
            return
        key = retry_key_for(_event_id(raw) or token or f"{target}:{event.timestamp}")
        try:
            await self.client.push(target, answer, retry_key=key)
        except LineError as exc:
            log.error("giving up on event %s: %s", _event_id(raw), exc)
            self._keep(raw, target, answer, str(exc))

    def _keep(self, raw: Any, target: str | None, answer: list[Message], reason: str) -> None:
        event = raw if isinstance(raw, dict) else {"raw": repr(raw)[:2000]}
        failure = Failure(
            at=time.time(),
            event_id=_event_id(raw),
            target=target,
            reason=reason[:1000],
            event=event,
            messages=[m.to_dict() for m in answer],
        )
        try:
            self.failures.add(failure)
        except Exception:  # noqa: BLE001 - the log line below is then the only record
            log.exception("could not write the failure log")
        log.error("LINE event %s kept in the failure log: %s", failure.event_id, reason[:300])


def _event_id(raw: Any) -> str | None:
    value = raw.get("webhookEventId") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None


def _fingerprint(raw: dict[str, Any]) -> str:
    """A dedupe key for an event without ``webhookEventId``: the hash of the whole event."""
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _stale(raw: dict[str, Any], max_age_s: float) -> bool:
    """Whether the event's ``timestamp`` (ms) is older than ``max_age_s``."""
    stamp = raw.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        return False  # no usable time: the parser refuses the event
    return time.time() - stamp / 1000 > max_age_s


def _user_id(event: Any) -> str | None:
    source = getattr(event, "source", None)
    return getattr(source, "user_id", None) if source is not None else None


def _source_id(event: Any) -> str | None:
    """Where answers go: the group or room when the event came from one, else the user."""
    source = getattr(event, "source", None)
    if source is None:
        return None
    return (
        getattr(source, "group_id", None)
        or getattr(source, "room_id", None)
        or getattr(source, "user_id", None)
    )
