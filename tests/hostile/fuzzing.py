"""Running generated requests against the gateway and counting what came back.

Every test in ``tests/hostile`` that generates requests goes through ``Tally.send``, which
counts responses by status and keeps a readable line for each 5xx. Hypothesis runs with
generation only (no shrinking, no example database, no deadline): the point is volume and
variety in bounded time, and a 5xx is reported with the request that caused it.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

# Deliberate 5xx: 507 when the disk really has no room for a declared upload (the generated
# sizes go up to the upload limit, more than a test machine may have free).
DELIBERATE_5XX = {507}
MIN_REQUESTS = 500


@dataclass
class Tally:
    """Responses of one endpoint by status, and the 5xx that should not have happened."""

    endpoint: str
    statuses: Counter[int] = field(default_factory=Counter)
    unsent: int = 0
    server_errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    def send(self, client: TestClient, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """One request; None if the HTTP client itself refused to send it (e.g. a header
        value that is not latin-1): such a request cannot reach a real server either."""
        try:
            response = client.request(method, url, **kwargs)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError, TypeError):
            self.unsent += 1
            return None
        self.statuses[response.status_code] += 1
        if response.status_code >= 500 and response.status_code not in DELIBERATE_5XX:
            self.server_errors.append(
                f"{method} {url} {_short(kwargs)} → {response.status_code} {response.text[:300]}"
            )
        return response

    def report(self) -> str:
        codes = ", ".join(f"{k}×{v}" for k, v in sorted(self.statuses.items()))
        return f"{self.endpoint}: {self.sent} requests ({codes}); {self.unsent} not sendable"

    def check(self, minimum: int = MIN_REQUESTS) -> None:
        """Print the count; fail on any unexpected 5xx or fewer than ``minimum`` requests."""
        print(self.report())
        assert not self.server_errors, (
            f"{len(self.server_errors)} server errors on {self.endpoint}:\n"
            + "\n".join(self.server_errors[:8])
        )
        assert self.sent >= minimum, self.report()


def generate(strategy: st.SearchStrategy[Any], examples: int, each: Callable[[Any], None]) -> None:
    """Call ``each`` on up to ``examples`` generated values (fewer if the space runs out)."""

    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(strategy)
    def run(value: Any) -> None:
        each(value)

    try:
        run()
    except Unsatisfiable:
        pass  # every distinct input was tried (an endpoint without parameters)


def _short(kwargs: dict[str, Any]) -> str:
    text = repr({k: v for k, v in kwargs.items() if v})
    return text if len(text) < 400 else text[:400] + "…"


# -- hostile envelopes: what any endpoint may receive besides its declared parameters --------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
)
_HEADER_VALUE = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.sampled_from(["", "\t", "0", "-1", "99999999999999999999", "bytes=0-", "bytes=-1,5-2",
                     "../../etc/passwd", "%00", "null", "=?utf-8?b?4piD?="]),
)
_HEADER_NAME = st.one_of(
    st.sampled_from([
        "Content-Type", "Content-Length", "Accept", "Accept-Language", "Accept-Encoding",
        "Range", "If-None-Match", "If-Modified-Since", "Origin", "Referer", "Cookie",
        "X-Forwarded-For", "X-CSRF-Token", "X-Line-Signature", "Authorization", "Host",
        "Transfer-Encoding", "Content-Encoding", "Upgrade",
    ]),
    st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=20),
)
_BODY = st.one_of(
    st.none(),
    st.binary(max_size=300),
    _TEXT.map(lambda t: t.encode()),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
        max_leaves=8,
    ).map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
)
# Bodies shaped like the gateway's own (known field names) with hostile values: lone
# surrogates ("\ud800", which json.loads accepts), control characters, huge numbers, nesting.
_FIELD = st.sampled_from([
    "message", "query", "sender", "metadata", "q", "lang", "department", "name", "password",
    "filename", "size", "upload_id", "title", "doc", "base_version", "version",
    "conversation_id", "entry_id", "rating", "comment", "reason", "transcript", "events",
])
_ODD_TEXT = st.text(alphabet=st.characters(categories=["Cs", "Cc", "Lo", "Nd", "Zs", "Po"]),
                    min_size=1, max_size=20)
_ODD_VALUE = st.recursive(
    _ODD_TEXT | st.integers() | st.floats() | st.none() | st.booleans(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_FIELD | _ODD_TEXT, inner,
                                                                max_size=3),
    max_leaves=8,
)
_BODY = _BODY | st.dictionaries(_FIELD, _ODD_VALUE, min_size=1, max_size=4).map(
    lambda d: json.dumps(d, ensure_ascii=True).encode()
)
_METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@st.composite
def envelope(draw: st.DrawFn, method: str | None = None) -> dict[str, Any]:
    """Junk query parameters, headers and body, and (unless given) any method."""
    headers = draw(st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=4))
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host",
                                                                      "transfer-encoding")}
    return {
        "method": method or draw(_METHODS),
        "params": draw(st.dictionaries(_TEXT, _TEXT, max_size=3)),
        "headers": headers,
        "content": draw(_BODY),
    }
