"""Fixes for Rasa 3.6 hot paths, installed in the Rasa server process at start-up.

Rasa runs every conversation in one event loop, so CPU it spends per message is what limits
one Rasa process (issue 8, docs/load.md). Profiles (py-spy, under ``bench.load``) found costs
that do no useful work; they are removed here, by replacing a method on Rasa's class, without
editing site-packages (the Rasa environment is installed from ``requirements/rasa.lock``).
Each replacement keeps Rasa's behaviour: same results, same exceptions, same messages.

``install()`` is called when ``tracker_store.py`` is imported, which only the Rasa server
does (endpoints.yml names it; ``rasa train`` and the action server never load it). It is
idempotent and logs one line naming the process, which ``tests/bot/test_rasa_speedups.py``
looks for in the running server's log.

Replaced:

- ``RemoteAction._validate_action_result``: Rasa calls ``jsonschema.validate(result,
  schema)`` on every action server response. ``validate`` first checks the schema itself
  against the JSON Schema meta-schema (``check_schema``) and then builds a new validator;
  for Rasa's large ``EVENTS_SCHEMA`` (a ``oneOf`` over every event type) that was ~46 % of
  the Rasa server's CPU under load. Here the schema is checked once and its validator built
  once per action class; the response is validated exactly as ``validate`` does (same
  validator class, ``best_match`` of the errors, the same message appended).
"""

import logging
import os
from typing import Any, Dict, Text

log = logging.getLogger(__name__)
_installed = False


def _cached_validator(action_class: type) -> Any:
    """The validator of ``action_class``'s response schema, built (and checked) once."""
    validator = action_class.__dict__.get("_madoguchi_response_validator")
    if validator is None:
        from jsonschema.validators import validator_for

        schema = action_class.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema)
        setattr(action_class, "_madoguchi_response_validator", validator)
    return validator


def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with a validator built once (see above)."""
    from jsonschema import exceptions

    from rasa.core.actions.action import DOCS_BASE_URL

    error = exceptions.best_match(_cached_validator(type(self)).iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Replace the slow Rasa methods listed in the module docstring (once per process)."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    _installed = True
    log.info("madoguchi rasa speedups installed in pid %d: action response validator "
             "built once", os.getpid())
