"""Rasa's REST channel plus message metadata, mounted at /webhooks/madoguchi/webhook.

Rasa 3.6's RestInput drops the request's ``metadata``; the gateway sends the resident's
language there, and the actions need it.
"""

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic.request import Request


class MadoguchiRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "madoguchi"

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = request.json or {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else {}
