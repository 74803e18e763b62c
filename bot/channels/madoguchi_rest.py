"""Rasa's REST channel plus message metadata, mounted at /webhooks/madoguchi/webhook.

Rasa 3.6's RestInput drops the request's ``metadata``; the gateway sends the resident's
language there, and the actions need it. The gateway's query vector for the message
(``madoguchi_e5``) is taken out here and handed to the e5 featurizer
(``components/e5_featurizer.py``): the metadata is stored with the user's event in the
tracker store and sent to the action server with every tracker, and 2 kB of numbers have
no business in either.
"""

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic.request import Request

from components.e5_featurizer import offer_vector

SHARED_VECTOR_KEY = "madoguchi_e5"


class MadoguchiRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "madoguchi"

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = request.json or {}
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            return {}
        shared = metadata.pop(SHARED_VECTOR_KEY, None)
        if shared is not None:
            offer_vector(body.get("message"), shared)
        return metadata
