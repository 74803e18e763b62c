"""The LINE channel: webhook (signature → ack → background processing), pure message
builders, the Messaging API client, event dedupe, and rich menu setup.

Reads as webhook → handlers → messages → client; ``signature``, ``dedupe`` and ``store``
are the small pieces the webhook and handlers lean on. The gateway uses ``router``,
``LineChannel`` and ``LineBodyLimit``; the CLI uses ``richmenu``.
"""

from adapters.line.channel import LineChannel
from adapters.line.client import (
    LineApiError,
    LineClient,
    LineDeliveryError,
    LineError,
    LineUnreachable,
)
from adapters.line.webhook import LineBodyLimit, router

__all__ = [
    "LineApiError",
    "LineBodyLimit",
    "LineChannel",
    "LineClient",
    "LineDeliveryError",
    "LineError",
    "LineUnreachable",
    "router",
]
