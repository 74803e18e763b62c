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
- ``model_data_utils._create_fake_features`` (DIET, on every message): Rasa deep-copies an
  example ``Features`` object, sparse matrix included, only to replace the matrix by an empty
  one; copying the scipy matrix was 8.7 % of the Rasa server's CPU after the fix above. Here
  everything but the matrix is deep-copied as before and the matrix is never copied.
"""

import copy
import logging
import os
from typing import Any, Dict, List, Text

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


def _create_fake_features(all_features: List[List[List[Any]]]) -> List[Any]:
    """``rasa.utils.tensorflow.model_data_utils._create_fake_features`` without copying the
    example's feature matrix (see above): same ``Features`` objects, same empty matrices."""
    import numpy as np
    import scipy.sparse

    example_features = next(
        iter([list_of_features for list_of_list_of_features in all_features
              for list_of_features in list_of_list_of_features if list_of_features is not None])
    )
    fake_features = []
    for _features in example_features:
        # The memo makes deepcopy reuse the matrix instead of copying it; it is replaced below.
        new_features = copy.deepcopy(_features, {id(_features.features): _features.features})
        if _features.is_dense():
            new_features.features = np.zeros(
                (0, _features.features.shape[-1]), _features.features.dtype
            )
        if _features.is_sparse():
            new_features.features = scipy.sparse.coo_matrix(
                (0, _features.features.shape[-1]), _features.features.dtype
            )
        fake_features.append(new_features)
    return fake_features


def install() -> None:
    """Replace the slow Rasa methods listed in the module docstring (once per process)."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import RemoteAction

    from rasa.utils.tensorflow import model_data_utils

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    model_data_utils._create_fake_features = _create_fake_features
    _installed = True
    log.info("madoguchi rasa speedups installed in pid %d: action response validator "
             "built once, DIET's empty features without copying", os.getpid())
