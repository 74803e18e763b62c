"""Calls to the LINE Messaging API: reply, push (with retries), loading animation, profile,
message content and rich menus.

Why httpx and not line-bot-sdk's ApiClient: the SDK's generated clients are urllib3
(blocking, so every call would need a worker thread) or aiohttp plus a multiprocessing
ThreadPool, each with its own retry and timeout behaviour and exception types. The gateway
already runs one ``httpx.AsyncClient``; with it we control exactly what this channel needs —
a timeout per call, retries only on 5xx/429/timeouts, the *same* ``X-Line-Retry-Key`` on
every attempt of a push, and one exception hierarchy to decide on. (In the gateway the calls
go through ``adapters/http_lean.py``: httpx's requests and exceptions on a leaner client.)
The SDK is still used for what it is good at: its pydantic models build every request body
(``to_dict()`` gives LINE's camelCase JSON), and the tests validate those bodies against the
official OpenAPI.

Reply tokens cannot be retried (there is no retry key for replies), so a failed reply is
not repeated here: the caller falls back to a push, which is.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from linebot.v3 import messaging
from linebot.v3.messaging import (
    Message,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)

from pydantic.v1 import BaseModel as PydanticV1Model

from adapters.errors import AdapterError
from adapters.http_lean import LeanHttp
from adapters.line.messages import make_model
from adapters.settings import LineSettings

log = logging.getLogger(__name__)
_R = TypeVar("_R")

# Namespace for retry keys derived from webhook event ids (uuid5): the same event always
# pushes with the same key, so even a second processing of it could not double-send.
RETRY_KEY_NAMESPACE = uuid.UUID("6d61646f-6775-6368-692d-6c696e650001")


class LineError(AdapterError):
    """A call to the LINE API did not succeed."""

    retryable = False


class LineApiError(LineError):
    """LINE answered with an error status."""

    def __init__(self, what: str, status: int, body: str) -> None:
        self.status = status
        self.body = body
        self.retryable = status >= 500 or status == 429
        super().__init__(f"LINE {what} failed: HTTP {status}: {body[:300]}")


class LineUnreachable(LineError):
    """LINE did not answer in time, or could not be connected to."""

    retryable = True


class LineDeliveryError(LineError):
    """A push still failed after every retry."""


@dataclass(frozen=True)
class Profile:
    """What the profile API says about a user (``language`` may be absent)."""

    user_id: str
    display_name: str
    language: str | None


def retry_key_for(seed: str) -> str:
    """A stable X-Line-Retry-Key (UUID) for a webhook event id or reply token."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, seed))


# The SDK models whose generated ``to_dict()`` was read and is ``dict(by_alias=True,
# exclude_none=True)`` with each nested model (alone or in a list) replaced by its own
# ``to_dict()`` — i.e. the same walk all the way down. ``model_dict`` walks only these
# itself; any other model (one the builders do not make today) keeps its own ``to_dict()``.
_PLAIN_MODELS: frozenset[type] = frozenset(
    getattr(messaging, name) for name in (
        "TextMessage", "FlexMessage", "FlexBubble", "FlexBox", "FlexText", "FlexButton",
        "URIAction", "MessageAction", "PostbackAction", "LocationAction", "QuickReply",
        "QuickReplyItem", "LocationMessage", "ReplyMessageRequest", "PushMessageRequest",
        "ShowLoadingAnimationRequest",
    )
)


def model_dict(value: Any) -> Any:
    """``value.to_dict()`` for the SDK's message and request models, walked directly.

    pydantic v1's ``dict()`` (which every generated ``to_dict()`` starts with) works out
    include/exclude sets and revalidates its options for every model and every field, and
    the ``to_dict()`` then throws its nested results away to convert each nested model again:
    ~0.6 ms CPU for a reply with an FAQ answer's Flex bubble and three quick replies (about
    a tenth of the gateway's event-loop CPU for a LINE message). This is the same walk as
    pydantic's for these models — fields in ``__dict__`` order, ``None`` fields left out,
    keys by alias, models and lists of them converted, anything else as it is — once.
    ``tests/adapters/line/test_line_request_body.py`` compares it with ``to_dict()`` on every
    kind of message sent.
    """
    if isinstance(value, PydanticV1Model):
        cls = type(value)
        if cls not in _PLAIN_MODELS:
            return value.to_dict()
        fields = cls.__fields__
        out = {}
        for name, item in value.__dict__.items():
            if item is None:
                continue
            field = fields.get(name)
            out[field.alias if field is not None else name] = model_dict(item)
        return out
    if type(value) is list:
        return [model_dict(item) for item in value]
    if type(value) is dict:
        return {key: model_dict(item) for key, item in value.items()}
    return value


def _plain_walk_ok(cls: type) -> bool:
    """Whether pydantic's ``dict()`` of ``cls`` has nothing ``model_dict`` does not do."""
    config = getattr(cls, "Config", None)
    return (getattr(cls, "__custom_root_type__", False) is False
            and getattr(cls, "__exclude_fields__", None) is None
            and getattr(cls, "__include_fields__", None) is None
            and not getattr(config, "use_enum_values", False))


_PLAIN_MODELS = frozenset(c for c in _PLAIN_MODELS if _plain_walk_ok(c))


def message_request_body(request: ReplyMessageRequest | PushMessageRequest,
                         lean: bool = False) -> dict[str, Any]:
    """``request.to_dict()``, the same dict with its keys in the same order; with ``lean``,
    :func:`model_dict`'s single walk. Without it, still without the
    SDK's wasted half: its ``to_dict()`` first converts the whole request, every message's
    nested models included, and then throws the messages away to convert each one again
    with ``Message.to_dict()`` (~0.3 ms CPU a LINE reply, 3 % of the gateway's busy CPU in
    a profile under ``bench.load``). Here the messages are converted once, that second way.
    ``tests/adapters/line/test_line_request_body.py`` compares both on every kind of message
    sent."""
    if lean:
        return model_dict(request)
    head = request.dict(by_alias=True, exclude={"messages"}, exclude_none=True)
    messages = [m.to_dict() for m in request.messages if m]
    body: dict[str, Any] = {}
    for name, field in request.__fields__.items():
        if name == "messages":
            body[field.alias] = messages
        elif field.alias in head:
            body[field.alias] = head[field.alias]
    return body


class LineClient:
    """The Messaging API over one shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        settings: LineSettings,
        http: httpx.AsyncClient | LeanHttp,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.http = http
        self.sleep = sleep
        self.api = settings.api_base_url.rstrip("/")
        self.data_api = settings.data_api_base_url.rstrip("/")
        # The URLs of every message, parsed once (httpx parses a str URL on each call).
        self._reply_url = httpx.URL(f"{self.api}/v2/bot/message/reply")
        self._push_url = httpx.URL(f"{self.api}/v2/bot/message/push")
        self._loading_url = httpx.URL(f"{self.api}/v2/bot/chat/loading/start")
        self._lean = settings.lean_request_bodies
        self._lean_models = settings.lean_message_models

    def _model(self, cls: type[_R], **fields: Any) -> _R:
        """The request model; with ``line.lean_message_models`` built without pydantic's
        validation (``messages.make_model``: same model, same body) when its values are ones
        validation takes as they are — strings and numbers, and 1 to 5 SDK messages (which
        validation would only copy) —, validated otherwise (and refused as before)."""
        if self._lean_models:
            messages = fields.get("messages")
            if ((messages is None or (1 <= len(messages) <= 5
                                      and all(isinstance(m, Message) for m in messages)))
                    and all(type(v) in (str, int) for k, v in fields.items() if k != "messages")):
                return make_model(cls, True, **fields)
        return cls(**fields)

    async def reply(self, reply_token: str, messages: Sequence[Message]) -> None:
        """Answer with a reply token (at most 5 messages; not retried)."""
        body = message_request_body(
            self._model(ReplyMessageRequest, reply_token=reply_token, messages=list(messages)),
            self._lean)
        await self._call("POST", self._reply_url, "reply", json=body)

    async def push(self, to: str, messages: Sequence[Message], retry_key: str | None = None) -> str:
        """Push messages, retrying 5xx, 429 and timeouts with backoff and the same retry key.

        Returns:
            The retry key used (a 409 means LINE already accepted that key: success).

        Raises:
            LineApiError: a non-retryable error (400, 401, 403…).
            LineDeliveryError: still failing after ``max_attempts``.
        """
        key = retry_key or str(uuid.uuid4())
        body = message_request_body(
            self._model(PushMessageRequest, to=to, messages=list(messages)), self._lean)
        url = self._push_url
        attempts = max(1, self.settings.max_attempts)
        last: LineError | None = None
        for attempt in range(1, attempts + 1):
            try:
                await self._call("POST", url, "push", json=body, headers={"X-Line-Retry-Key": key})
                return key
            except LineApiError as exc:
                if exc.status == 409:
                    log.info("push %s was already accepted by LINE (409 for its retry key)", key)
                    return key
                if not exc.retryable:
                    raise
                last = exc
            except LineUnreachable as exc:
                last = exc
            if attempt < attempts:
                wait = min(
                    self.settings.backoff_s * 2 ** (attempt - 1), self.settings.backoff_max_s
                )
                log.warning(
                    "push attempt %d/%d failed (%s); retrying in %.2fs",
                    attempt,
                    attempts,
                    last,
                    wait,
                )
                await self.sleep(wait)
        raise LineDeliveryError(f"push to {to} failed after {attempts} attempts: {last}") from last

    async def start_loading(self, chat_id: str, seconds: int) -> bool:
        """Show the loading animation in a 1:1 chat. Failure only costs the animation."""
        seconds = min(60, max(5, 5 * round(seconds / 5)))
        request = self._model(ShowLoadingAnimationRequest, chat_id=chat_id,
                              loading_seconds=seconds)
        body = model_dict(request) if self._lean else request.to_dict()
        try:
            await self._call("POST", self._loading_url, "loading", json=body)
        except LineError as exc:
            log.warning("loading animation not shown: %s", exc)
            return False
        return True

    async def profile(self, user_id: str) -> Profile | None:
        """The user's profile, or None if LINE would not give it (logged)."""
        try:
            response = await self._call("GET", f"{self.api}/v2/bot/profile/{user_id}", "profile")
            data = response.json()
        except (LineError, ValueError) as exc:
            log.warning("profile of %s unavailable: %s", user_id, exc)
            return None
        language = data.get("language") if isinstance(data, dict) else None
        return Profile(
            user_id=str(data.get("userId") or user_id),
            display_name=str(data.get("displayName") or ""),
            language=language if isinstance(language, str) and language else None,
        )

    async def content(self, message_id: str) -> bytes:
        """The binary content of a user's message (voice, image…) from the data API."""
        response = await self._call(
            "GET",
            f"{self.data_api}/v2/bot/message/{message_id}/content",
            "content",
            timeout=self.settings.content_timeout_s,
        )
        return response.content

    async def create_rich_menu(self, body: dict[str, Any]) -> str:
        """Create a rich menu; returns its id."""
        response = await self._call(
            "POST", f"{self.api}/v2/bot/richmenu", "create rich menu", json=body
        )
        rich_menu_id = response.json().get("richMenuId")
        if not isinstance(rich_menu_id, str) or not rich_menu_id:
            raise LineApiError(
                "create rich menu", response.status_code, "no richMenuId in the answer"
            )
        return rich_menu_id

    async def upload_rich_menu_image(
        self, rich_menu_id: str, image: bytes, content_type: str
    ) -> None:
        """Upload the rich menu's image (PNG or JPEG) to the data API."""
        await self._call(
            "POST",
            f"{self.data_api}/v2/bot/richmenu/{rich_menu_id}/content",
            "upload rich menu image",
            content=image,
            headers={"Content-Type": content_type},
            timeout=self.settings.content_timeout_s,
        )

    async def set_default_rich_menu(self, rich_menu_id: str) -> None:
        """Show this rich menu to every user who has no per-user menu."""
        await self._call(
            "POST", f"{self.api}/v2/bot/user/all/richmenu/{rich_menu_id}", "set default rich menu"
        )

    async def _call(
        self,
        method: str,
        url: str | httpx.URL,
        what: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        token = self.settings.channel_access_token.get_secret_value()
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        limit = timeout or self.settings.timeout_s
        try:
            response = await self.http.request(
                method, url, json=json, content=content, headers=all_headers, timeout=limit
            )
        except httpx.TimeoutException as exc:
            raise LineUnreachable(
                f"LINE {what} timed out after {limit:g}s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise LineUnreachable(
                f"LINE {what} unreachable at {url}: {type(exc).__name__}: {exc}"
            ) from exc
        if response.status_code >= 300:
            raise LineApiError(what, response.status_code, response.text)
        return response
