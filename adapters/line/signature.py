"""``x-line-signature`` checks: base64(HMAC-SHA256(channel secret, raw body)).

Pure functions over the raw bytes, called before the body is parsed, so a forged request
costs one HMAC and nothing else. line-bot-sdk's ``SignatureValidator`` does the same on a
``str`` body; working on bytes avoids a decode round-trip that would reject (or, worse,
normalise) a body that is not valid UTF-8. The tests check both agree on LINE's vector.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(channel_secret: str, body: bytes) -> str:
    """The signature LINE would send for ``body``."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is LINE's signature of ``body`` (constant-time compare).

    A missing or empty signature, or an empty secret, never verifies.
    """
    if not signature or not channel_secret:
        return False
    expected = sign(channel_secret, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
