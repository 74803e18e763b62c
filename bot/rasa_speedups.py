"""Fixes for Rasa 3.6 hot paths, installed in the Rasa server process at start-up.

Rasa runs every conversation in one event loop, so CPU it spends per message is what limits
one Rasa process (issue 8, docs/load.md). Profiles (py-spy, under ``bench.load``) found costs
that do no useful work; they are removed here, by replacing a method on Rasa's class, without
editing site-packages (the Rasa environment is installed from ``requirements/rasa.lock``).
Each replacement keeps Rasa's behaviour: same results, same exceptions, same messages.

``install()`` is called when ``tracker_store.py`` is imported, which only the Rasa server
does (endpoints.yml names it; ``rasa train`` and the action server never load it). It is
idempotent and logs one line naming the process, which ``tests/bot/test_rasa_speedups.py``
looks for in the running server's log. ``MADOGUCHI_RASA_SPEEDUPS=off`` in Rasa's environment
leaves Rasa as it is (to compare, or to rule these changes out when something looks wrong);
it also switches off the SQLite connection pool of ``tracker_store.py``.

Replaced:

- ``RemoteAction._validate_action_result``: Rasa calls ``jsonschema.validate(result,
  schema)`` on every action server response. ``validate`` first checks the schema itself
  against the JSON Schema meta-schema (``check_schema``) and then builds a new validator;
  for Rasa's large ``EVENTS_SCHEMA`` (a ``oneOf`` over every event type) that was ~46 % of
  the Rasa server's CPU under load. Here the schema is checked once and its validator built
  once per action class; the response is validated exactly as ``validate`` does (same
  validator class, ``best_match`` of the errors, the same message appended). Measured:
  29.6 → 1.9 ms CPU for a response with four events.
- ``model_data_utils._create_fake_features`` (DIET, on every message): Rasa deep-copies an
  example ``Features`` object, sparse matrix included, only to replace the matrix by an empty
  one; copying the scipy matrix was 8.7 % of the Rasa server's CPU after the fix above. Here
  everything but the matrix is deep-copied as before and the matrix is never copied.
  Measured: 57.6 → 54.7 ms CPU per NLU parse of the trained model (bundled e5 engine).
- ``EndpointConfig.session`` (every call to the action server, two or three a turn): Rasa
  made a new aiohttp ``ClientSession``, hence a new connector and TCP connection, per
  request and closed it after (5.3 % of the Rasa server's CPU, and a Sanic connection set-up
  in the action server each time). Here each endpoint configuration keeps one session per
  event loop: ``async with endpoint.session()`` lends it and leaves it open. It keeps no
  cookies (a fresh session never sent any back), has no connection limit (fresh sessions had
  none) and drops idle connections after 2 s, before Sanic's 5 s keep-alive closes them.
  Measured: aiohttp's connection set-up went from 2.9 % of Rasa's CPU to 0.1 %.
- ``DIETClassifier._predict`` (every message): with no transformer layers DIET's intent
  scores are a few small dense layers over the sentence features, which ``diet_numpy``
  computes from the loaded model's own weights; through TensorFlow they were ~32 % of the
  Rasa server's active CPU under ``bench.load``. Same ranking, confidences within 1e-5 on
  every NLU example and bench query (tested); any other model shape, and diagnostic data,
  keep Rasa's path. Measured: 5.3 → 0.4 ms CPU per prediction.
- ``Event.resolve_by_type`` (every stored or returned event): Rasa walks
  ``all_subclasses(Event)`` with ``inspect.isabstract`` for each event it deserialises
  (half of the tracker store's retrieve). Here a type-name map built from the same walk, in
  the same order, is rebuilt whenever an Event subclass is defined (``__init_subclass__``).
  Measured: 36 → 0.1 µs per lookup, ~40 lookups per turn.
- ``DaskGraphRunner.run`` (the NLU graph and each of the 2-3 policy predictions of a turn):
  dask orders and schedules the same ~10-node graph on every run (7.8 % of Rasa's active
  CPU, plus a debug f-string formatting the inputs although debug logging is off). Here
  dask runs each graph shape (targets, input names) once, the order it called the nodes in
  is noted, and later runs call the same nodes in that order with the same arguments; an
  exception propagates as it does from dask (RuntimeError → GraphRunError).

- aiohttp's ``StreamWriter`` (every call to the action server): the request head was
  written to the socket on its own and the JSON body in a second write; on loopback each
  write is a send() whose delivery to the action server is charged to the sender (aiohttp's
  header write was ~9 % of the Rasa server's active CPU once the above were done). Here the
  head is kept and goes out with the first body bytes, or at ``drain``/``write_eof`` (a
  request without a body, or one waiting for ``100-continue``): the same bytes, in one
  write. A closing transport is still refused when the head is written, with aiohttp's error.

- The action server's response checked event by event (every call to the action server):
  with the validator built once, validating a response was still ~15 % of the Rasa server's
  CPU (cProfile, CPU clock, under ``bench.load``): each event is tried against all ~23
  ``oneOf`` branches of Rasa's event schema, each a full ``properties`` descent. An event
  whose ``"event"`` is a string can only match the branches with that name as ``const``, so
  it is checked against those alone, with the same jsonschema validator class
  (``_ResponseCheck`` says why that is the same verdict); a response found invalid, or not of
  the shape expected, goes through Rasa's validation for its very error. Measured: 1.37 →
  0.12 ms CPU for a five-event response; verdicts and errors equal on 200+ responses.
- ``CountVectorsFeaturizer._create_features`` (both featurizers, every message): sklearn's
  ``transform`` rebuilt the analyzer and a CSR matrix that Rasa then sorted and turned into
  COO, twice per message and featurizer. Here the counts go straight into the COO matrix
  ``csr.tocoo()`` gives (same rows, columns in order, counts, dtypes). Measured: 0.097 →
  0.043 ms CPU per call; equal matrices on every NLU example and bench query.
- ``DialogueStateTracker.past_states`` (policy featurisation, 2-3 times per prediction): the
  RulePolicy featurises the same tracker twice with the same arguments (text, then intent),
  replaying every event each time. Here the states are kept on the tracker for its events
  (compared by identity) and arguments, and a copy handed out; a new event or other
  arguments compute afresh. Measured: 0.2 ms → 8 µs for a 22-event tracker's second call.

- ``RulePolicy._get_possible_keys`` (twice per prediction): each rule key was tested against
  each turn by ``_is_rule_applicable``, which re-reversed the parsed rule every time, then
  compared the whole rule state. Here the rules are reversed once, and a rule turn naming a
  previous action is dropped without the full comparison when the conversation's previous
  action is another one (the comparison would fail on that value). Same keys in the same set
  order (tested on every rule/story prefix and bench turn). With the past-states memo,
  0.93 → 0.74 ms CPU per prediction on those prefixes.

- ``copy.copy`` of Rasa's ``Slot`` objects in ``DialogueStateTracker.__init__`` (every
  tracker made: the one of each message, and each replay of its events, ~9 a message): the
  generic ``copy.copy`` goes through ``__reduce_ex__``, ``copyreg.__newobj__`` and
  ``_reconstruct`` for what is a new object with the same ``__dict__`` entries. Here
  ``trackers.py``'s ``copy`` is the ``copy`` module with ``copy`` doing exactly that for
  classes where ``copy.copy`` does it (no ``__copy__``, no own reduce, state or
  ``__new__`` arguments, no non-empty ``__slots__``, not in a dispatch table); anything else
  goes to ``copy.copy``. Measured: 37 → 12 µs for the 13 slots of a tracker.

- ``isinstance`` of events in ``DialogueStateTracker.applied_events``, ``update`` and
  ``generate_all_prior_trackers`` (each featurisation and tracker copy: ~6, ~160 and ~70
  calls a message): Rasa's event classes derive from an ABC, whose ``__instancecheck__``
  runs in Python (~960 a message, a lead of session 7's profile). An event's answers depend
  only on its class and on ABC registrations, so each class's kind is looked up once per
  ``abc.get_cache_token()``; the methods take the same branches in the same order, with
  Rasa's helpers for reverts and loops. Measured: tracker, applied events and prior
  trackers of ~2,400 story prefixes and random sequences 143 → 119 µs CPU each
  (``tests/bot/test_event_checks.py``, busy machine).

Tried and taken out again: ``gc.freeze()`` of the Rasa server's heap after the model was
loaded. A full collection walked ~1.77 million objects (0.56 s), but none ran under a 30 s
``bench.load``, and with the freeze the Rasa server used more CPU per message, not less
(A B B A at 50 msg/s: 12.4, 17.9, 16.1, 13.3 ms; freeze alone off/on 13.3/16.4), for reasons
not found.

``MADOGUCHI_RASA_SPEEDUPS_SKIP=diet_numpy,event_types,graph_order,one_write,response_check,
count_vectors,past_states,rule_keys,slot_copy,event_checks`` leaves out those, one by one,
for A/B runs (``one_dump`` is the tracker store's, ``tracker_store.py``; ``gateway_session``
the action server's, ``bot/actions/gateway.py``; both parsed by ``kept_sessions.skipped``).
"""

import abc
import copy
import logging
import os
from typing import Any, Dict, List, Optional, Text

from kept_sessions import kept_session, skipped

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


_NO_CONST = object()
_check_responses = True  # MADOGUCHI_RASA_SPEEDUPS_SKIP=response_check: jsonschema as before


class _ResponseCheck:
    """Is an action server response valid against Rasa's response schema? Decided event by
    event against only the event schemas its ``"event"`` name can match (see above).

    Rasa's schema is ``{"type": "object", "properties": {"events": {"type": "array", "items":
    EVENT}, "responses": R}}`` where ``EVENT`` is one ``oneOf`` over ~23 event schemas, each
    with ``"properties": {"event": {"const": name}}``. A response is valid exactly when it is
    an object whose ``events`` (if present) is an array of valid events and whose
    ``responses`` (if present) is valid under ``R``. For an event that is an object with a
    string ``"event"``, every ``oneOf`` branch whose const is another name fails (its
    ``properties`` keyword applies and ``const`` differs), so "exactly one branch valid" over
    all branches is "exactly one valid" over the branches left: ``EVENT`` with ``oneOf``
    narrowed to those is equivalent for that event, and checks 1 branch instead of 23.
    Anything else (an event without a string name) is checked against the whole ``EVENT``.
    """

    def __init__(self, cls: Any, schema: Dict[Text, Any]) -> None:
        events = schema["properties"]["events"]
        self.event_schema = events["items"]
        self.cls = cls
        self.top = cls({**schema, "properties": {**schema["properties"],
                                                 "events": {"type": events["type"]}}})
        self.whole_event = cls(self.event_schema)
        self.by_name: Dict[Text, Any] = {}

    @classmethod
    def of(cls, validator_cls: Any, schema: Any) -> Any:
        """The check for ``schema`` when it has the shape above; None otherwise."""
        try:
            events = schema["properties"]["events"]
            fits = (schema.get("type") == "object" and events == {"type": "array",
                                                                  "items": events["items"]}
                    and isinstance(events["items"].get("oneOf"), list)
                    and set(schema) <= {"type", "properties"})
        except (KeyError, TypeError, AttributeError):
            fits = False
        return cls(validator_cls, schema) if fits else None

    def _event_validator(self, name: Text) -> Any:
        validator = self.by_name.get(name)
        if validator is None:
            branches = [branch for branch in self.event_schema["oneOf"]
                        if _branch_const(branch) in (name, _NO_CONST)]
            validator = self.cls({**self.event_schema, "oneOf": branches})
            self.by_name[name] = validator
        return validator

    def is_valid(self, result: Any) -> bool:
        if not self.top.is_valid(result):
            return False
        for event in result.get("events") or ():
            name = event.get("event") if isinstance(event, dict) else None
            validator = self._event_validator(name) if isinstance(name, str) \
                else self.whole_event
            if not validator.is_valid(event):
                return False
        return True


def _branch_const(branch: Any) -> Any:
    """The ``const`` a ``oneOf`` branch requires of ``"event"`` (``_NO_CONST`` if none)."""
    try:
        return branch["properties"]["event"]["const"]
    except (KeyError, TypeError):
        return _NO_CONST


def _response_check(action_class: type) -> Any:
    check = action_class.__dict__.get("_madoguchi_response_check")
    if check is None:
        validator = _cached_validator(action_class)
        check = _ResponseCheck.of(type(validator), validator.schema) or False
        setattr(action_class, "_madoguchi_response_check", check)
    return check


def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with a validator built once (see above)."""
    from jsonschema import exceptions

    from rasa.core.actions.action import DOCS_BASE_URL

    check = _response_check(type(self)) if _check_responses else None
    if check and check.is_valid(result):
        return True
    # Refused (or not decided above): Rasa's own validation, for its very error.
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


class _LentSession:
    """``async with`` on a kept session: entering returns it, leaving keeps it open."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *_: Any) -> None:
        return None


_rasa_session: Any = None


def _endpoint_session(self: Any) -> Any:
    """``EndpointConfig.session`` lending one kept session per endpoint and loop (see above;
    ``kept_sessions.py``, shared with the action server's calls to the gateway)."""
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # not in a coroutine: Rasa's own (a session to close by the caller)
        return _rasa_session(self)
    key = (repr(sorted(self.headers.items())), repr(sorted(self.basic_auth.items())))
    return _LentSession(kept_session(key, lambda: {
        "headers": self.headers, "timeout": aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        "auth": (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                 if self.basic_auth else None)}))


_event_types: Any = None  # type name → Event class, rebuilt after any new Event subclass


def _event_types_changed(cls: type, **kwargs: Any) -> None:
    """``Event.__init_subclass__``: a new Event class was defined, so the type map is stale."""
    global _event_types
    _event_types = None
    from rasa.shared.core.events import Event

    super(Event, cls).__init_subclass__(**kwargs)  # type: ignore[misc]


def _resolve_event_type(type_name: Text, default: Any = None) -> Any:
    """``Event.resolve_by_type`` from a map built once (see above): the same class for
    every name (the first in ``all_subclasses(Event)`` order), the same None for "topic",
    the same default or ValueError otherwise."""
    global _event_types
    types = _event_types
    if types is None:
        from rasa.shared.core.events import Event
        from rasa.shared.utils.common import all_subclasses

        types = {}
        for cls in all_subclasses(Event):
            types.setdefault(cls.type_name, cls)
        _event_types = types
    cls = types.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # Rasa's backwards compatibility for old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


class _Recorder:
    """A graph node that notes when dask runs it: how dask's order is learnt, once."""

    def __init__(self, key: Text, node: Any, order: List[Text]) -> None:
        self.key, self.node, self.order = key, node, order

    def __call__(self, *args: Any) -> Any:
        self.order.append(self.key)
        return self.node(*args)


def _graph_run(self: Any, inputs: Any = None, targets: Any = None) -> Dict[Text, Any]:
    """``DaskGraphRunner.run`` replaying dask's own order (see above)."""
    import dask

    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner import dask as rasa_dask

    run_targets = targets if targets else self._graph_schema.target_names
    plans = self.__dict__.setdefault("_madoguchi_plans", {})
    plan_key = (tuple(run_targets), tuple(inputs or ()))
    plan = plans.get(plan_key)
    if plan is None:
        template = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
        plan = (template, [])
    template, order = plan
    run_graph = dict(template)
    if inputs:
        self._add_inputs_to_graph(inputs, run_graph)
    if rasa_dask.logger.isEnabledFor(logging.DEBUG):
        rasa_dask.logger.debug(f"Running graph with inputs: {inputs}, targets: {targets} "
                               f"and {self._execution_context}.")
    try:
        if not order:  # first run of this shape: dask runs it, and its order is noted
            seen: List[Text] = []
            recording = {key: (_Recorder(key, task[0], seen), *task[1:]) if key in template
                         else task for key, task in run_graph.items()}
            result = dict(dask.get(recording, run_targets))
            order.extend(seen)
            plans[plan_key] = plan
            return result
        cache = {name: run_graph[name] for name in inputs or ()}
        for key in order:
            node, *needs = run_graph[key]
            cache[key] = node(*[cache.get(need, need) for need in needs])
        return dict(cache[target] for target in run_targets)
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


_rasa_stream_write: Any = None
_rasa_stream_drain: Any = None


async def _write_headers(self: Any, status_line: str, headers: Any) -> None:
    """aiohttp ``StreamWriter.write_headers`` keeping the head for the first body write (see
    above); a closing transport is refused here, as Rasa's aiohttp did, with the same error."""
    from aiohttp.http_writer import _serialize_headers

    if self._on_headers_sent is not None:
        await self._on_headers_sent(headers)
    transport = self.transport
    if not self._protocol.connected or transport is None or transport.is_closing():
        raise ConnectionResetError("Cannot write to closing transport")
    self._madoguchi_head = _serialize_headers(status_line, headers)


def _stream_write(self: Any, chunk: bytes) -> None:
    """``StreamWriter._write``: a kept head goes out in the same write as the first chunk."""
    head = self.__dict__.pop("_madoguchi_head", None)
    _rasa_stream_write(self, chunk if head is None else head + chunk)


async def _stream_drain(self: Any) -> None:
    """``StreamWriter.drain``: a kept head is written first (before a wait for the peer,
    e.g. ``Expect: 100-continue``, and at the end of a request without a body)."""
    head = self.__dict__.pop("_madoguchi_head", None)
    if head is not None:
        _rasa_stream_write(self, head)
    await _rasa_stream_drain(self)


_rasa_past_states: Any = None


def _past_states(self: Any, domain: Any, omit_unset_slots: bool = False,
                 ignore_rule_only_turns: bool = False,
                 rule_only_data: Optional[Dict[Text, Any]] = None) -> List[Any]:
    """``DialogueStateTracker.past_states`` computed once per tracker, events and arguments
    (see above): a later call with the same ones gets a copy of the states (every state and
    sub-state dict new; their values are strings and tuples), which callers may change."""
    events = tuple(self.events)
    key = (id(domain), omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data),
           self.is_rule_tracker)
    memo = self.__dict__.get("_madoguchi_past_states")
    if memo is None or len(memo[0]) != len(events) or memo[1] is not domain \
            or not all(a is b for a, b in zip(memo[0], events)):
        memo = (events, domain, {})
        self.__dict__["_madoguchi_past_states"] = memo
    states = memo[2].get(key)
    if states is None:
        states = _rasa_past_states(self, domain, omit_unset_slots=omit_unset_slots,
                                   ignore_rule_only_turns=ignore_rule_only_turns,
                                   rule_only_data=rule_only_data)
        memo[2][key] = _copy_states(states)
        return states
    return _copy_states(states)


def _copy_states(states: List[Any]) -> List[Any]:
    """A copy of Rasa ``State``s (dicts of sub-state dicts whose values are strings and
    tuples), new down to the sub-states; anything else in them is deep-copied."""
    return [{name: dict(sub) if isinstance(sub, dict) and all(
        isinstance(value, (str, tuple)) for value in sub.values()) else copy.deepcopy(sub)
        for name, sub in state.items()} for state in states]


_rasa_possible_keys: Any = None


def _possible_rule_keys(self: Any, lookup: Dict[Text, Text], states: List[Any]) -> Any:
    """``RulePolicy._get_possible_keys`` with Rasa's test per key and turn
    (``_is_rule_applicable``) written out over rule states parsed and reversed once, and one
    shortcut: a rule turn that names a previous action (``prev_action.action_name``, set and
    not ``should_not_be_set``) cannot match a conversation turn with another previous action
    (``_does_rule_match_state`` would return False on that value), so the rest of that
    rule state is not compared. The keys are filtered in the same order, turn by turn, as
    Rasa does: the same set, iterating in the same order."""
    from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
    from rasa.shared.nlu.constants import ACTION_NAME

    rules = self.__dict__.setdefault("_madoguchi_reversed_rules", {})
    match = self._does_rule_match_state
    possible_keys = set(lookup.keys())
    for i, state in enumerate(reversed(states)):
        current = state.get(PREVIOUS_ACTION)
        current_name = current.get(ACTION_NAME) if current else None

        def applicable(key: Text) -> bool:
            rule = rules.get(key)
            if rule is None:
                rule = rules[key] = list(reversed(self._rule_key_to_state(key)))
            if i >= len(rule):
                return True
            rule_state = rule[i]
            rule_previous = rule_state.get(PREVIOUS_ACTION)
            if not rule_previous and not current:
                return True
            if not rule_previous or not current:
                return False
            name = rule_previous.get(ACTION_NAME)
            if (isinstance(name, str) and name and name != SHOULD_NOT_BE_SET
                    and current_name != name):
                return False
            return match(rule_state, state)

        possible_keys = set(filter(applicable, possible_keys))
    return possible_keys


_rasa_create_features: Any = None


def _count_analyzer(vectorizer: Any) -> Any:
    """The vectorizer's ``build_analyzer()``, built once (sklearn rebuilds it, validating its
    parameters, on every ``transform``); None when the fast path does not apply."""
    analyze = vectorizer.__dict__.get("_madoguchi_analyzer")
    if analyze is None:
        from sklearn.feature_extraction.text import CountVectorizer

        vocabulary = getattr(vectorizer, "vocabulary_", None)
        fits = (type(vectorizer) is CountVectorizer and isinstance(vocabulary, dict)
                and len(vocabulary) > 0 and vectorizer.input == "content")
        analyze = vectorizer.build_analyzer() if fits else False
        vectorizer.__dict__["_madoguchi_analyzer"] = analyze
    return analyze or None


def _count_matrix(vectorizer: Any, analyze: Any, documents: List[Text]) -> Any:
    """``vectorizer.transform(documents)`` with its indices sorted, as a COO matrix: what
    sklearn's ``_count_vocab`` (fixed vocabulary) and scipy's ``csr_matrix.tocoo`` give, built
    directly — the same counts per document, columns in increasing order, int32 indices,
    ``vectorizer.dtype`` values, 1 for every count when ``binary``."""
    import numpy as np
    import scipy.sparse

    vocabulary = vectorizer.vocabulary_
    rows: List[int] = []
    columns: List[int] = []
    counts: List[int] = []
    for row, document in enumerate(documents):
        counter: Dict[int, int] = {}
        for feature in analyze(document):
            index = vocabulary.get(feature)
            if index is not None:
                counter[index] = counter.get(index, 0) + 1
        for index in sorted(counter):
            rows.append(row)
            columns.append(index)
            counts.append(counter[index])
    data = np.asarray(counts, dtype=np.intc).astype(vectorizer.dtype)
    if vectorizer.binary:
        data.fill(1)
    return scipy.sparse.coo_matrix(
        (data, (np.asarray(rows, dtype=np.int32), np.asarray(columns, dtype=np.int32))),
        shape=(len(documents), len(vocabulary)), copy=True, dtype=data.dtype)


def _create_count_features(self: Any, attribute: Text, all_tokens: List[List[Text]]) -> Any:
    """``CountVectorsFeaturizer._create_features`` counting through the fitted vocabulary
    directly (see above); Rasa's own for a vectorizer the fast path does not cover."""
    from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES

    vectorizer = self.vectorizers.get(attribute)
    analyze = _count_analyzer(vectorizer) if vectorizer else None
    if analyze is None:
        return _rasa_create_features(self, attribute, all_tokens)
    sequence_features: List[Any] = []
    sentence_features: List[Any] = []
    for tokens in all_tokens:
        if not tokens:
            sequence_features.append(None)
            sentence_features.append(None)
            continue
        if isinstance(tokens, str):  # sklearn refuses a string: Rasa's path raises it
            return _rasa_create_features(self, attribute, all_tokens)
        sequence_features.append(_count_matrix(vectorizer, analyze, tokens))
        sentence_features.append(
            _count_matrix(vectorizer, analyze, [" ".join(tokens)])
            if attribute in DENSE_FEATURIZABLE_ATTRIBUTES else None)
    return sequence_features, sentence_features


_plain_copy_classes: Dict[type, bool] = {}


def _copies_plainly(cls: type) -> bool:
    """Whether ``copy.copy`` of a ``cls`` instance is ``cls.__new__(cls)`` with the
    original's ``__dict__`` entries: what ``copy.copy`` does through ``object.__reduce_ex__(4)``
    and ``copy._reconstruct`` when nothing of the class changes that path."""
    import copyreg

    plain = _plain_copy_classes.get(cls)
    if plain is None:
        slots = [k.__dict__["__slots__"] for k in cls.__mro__ if "__slots__" in k.__dict__]
        plain = (cls not in copy._copy_dispatch  # type: ignore[attr-defined]
                 and not issubclass(cls, type)
                 and getattr(cls, "__copy__", None) is None
                 and cls not in copyreg.dispatch_table
                 and getattr(cls, "__reduce_ex__", None) is object.__reduce_ex__
                 and getattr(cls, "__reduce__", None) is object.__reduce__
                 and not any(hasattr(cls, name) for name in (
                     "__setstate__", "__getstate__", "__getnewargs_ex__", "__getnewargs__"))
                 and getattr(cls, "__new__", None) is object.__new__
                 and cls.__getattribute__ is object.__getattribute__
                 and not hasattr(cls, "__getattr__")
                 and all(isinstance(s, (tuple, list)) and not s for s in slots)
                 and "__dict__" in dir(cls))
        _plain_copy_classes[cls] = plain
    return plain


def _copy(x: Any) -> Any:
    """``copy.copy`` with the plain case (``_copies_plainly``) done directly."""
    cls = type(x)
    if not _copies_plainly(cls):
        return copy.copy(x)
    new = object.__new__(cls)
    new.__dict__.update(x.__dict__)
    return new


class _CopyModule:
    """The ``copy`` module as ``rasa.shared.core.trackers`` sees it: ``copy`` is ``_copy``,
    everything else the module's own."""

    copy = staticmethod(_copy)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


# Event kinds by class (``event_checks``): Rasa's tracker asks ``isinstance(event, X)`` of
# each event for several ``X`` in ``applied_events``, ``update`` and
# ``generate_all_prior_trackers``; the event classes derive from an ABC, whose
# ``__instancecheck__`` runs in Python, ~960 times a message. An event's answers depend only
# on its class (``isinstance`` is ``issubclass`` of its type when ``__class__`` is that
# type) and on the ABC registrations (``abc.get_cache_token()`` changes with each), so they
# are asked once per class and token.
_KIND_PLAIN, _KIND_RESET, _KIND_REVERTED, _KIND_UTTERANCE_REVERTED, _KIND_EXECUTED = range(5)
_KIND_MASK, _KIND_LOOP, _KIND_EVENT = 7, 8, 16
_event_kinds: Dict[type, int] = {}
_event_kinds_token: Any = None


def _class_kind(cls: type) -> int:
    """The kind of an event class: which of Rasa's checks its instances pass."""
    from rasa.shared.core.events import (ActionExecuted, ActionReverted, ActiveLoop, Event,
                                         Restarted, SessionStarted, UserUtteranceReverted)

    kind = (_KIND_RESET if issubclass(cls, (Restarted, SessionStarted))
            else _KIND_REVERTED if issubclass(cls, ActionReverted)
            else _KIND_UTTERANCE_REVERTED if issubclass(cls, UserUtteranceReverted)
            else _KIND_EXECUTED if issubclass(cls, ActionExecuted) else _KIND_PLAIN)
    kind |= ((_KIND_LOOP if issubclass(cls, ActiveLoop) else 0)
             | (_KIND_EVENT if issubclass(cls, Event) else 0))
    _event_kinds[cls] = kind
    return kind


def _event_kinds_now() -> Dict[type, int]:
    """The class → kind map, emptied when an ABC registration was made since it was filled."""
    global _event_kinds_token
    token = abc.get_cache_token()
    if token != _event_kinds_token:
        _event_kinds.clear()
        _event_kinds_token = token
    return _event_kinds


def _kinds_of(events: Any) -> Optional[List[int]]:
    """Each event's kind as Rasa's ``isinstance`` checks see it; None when an event's
    ``__class__`` is not its type (Rasa's own code then decides)."""
    kinds = _event_kinds_now()
    out = []
    for event in events:
        cls = type(event)
        if event.__class__ is not cls:
            return None
        kind = kinds.get(cls)
        out.append(_class_kind(cls) if kind is None else kind)
    return out


_rasa_applied_events: Any = None
_rasa_update: Any = None
_rasa_prior_trackers: Any = None
_METADATA_MODEL_ID: Any = None
_ASSISTANT_ID_KEY: Any = None
_ActionExecuted: Any = None
_UserUttered: Any = None


def _applied_events(self: Any) -> List[Any]:
    """``DialogueStateTracker.applied_events`` with each event's kind looked up by class
    (see above): the same branches in the same order, the same helpers for reverts and loops."""
    events = self.events
    kinds = _kinds_of(events)
    if kinds is None:
        return _rasa_applied_events(self)
    loop_names = [event.name for event, kind in zip(events, kinds)
                  if kind & _KIND_LOOP and event.name]
    applied_events: List[Any] = []
    for event, kind in zip(events, kinds):
        kind &= _KIND_MASK
        if kind == _KIND_PLAIN:
            applied_events.append(event)
        elif kind == _KIND_RESET:
            applied_events = []
        elif kind == _KIND_REVERTED:
            self._undo_till_previous(_ActionExecuted, applied_events)
        elif kind == _KIND_UTTERANCE_REVERTED:
            self._undo_till_previous(_UserUttered, applied_events)
            self._undo_till_previous(_ActionExecuted, applied_events)
        elif (event.action_name in loop_names
              and not self._first_loop_execution_or_unhappy_path(event.action_name,
                                                                 applied_events)):
            self._undo_till_previous_loop_execution(event.action_name, applied_events)
        else:
            applied_events.append(event)
    return applied_events


def _tracker_update(self: Any, event: Any, domain: Any = None) -> None:
    """``DialogueStateTracker.update`` with its ``isinstance(event, Event)`` looked up by
    class (a class that is an Event stays one); anything else, and its ValueError, through
    Rasa's own."""
    cls = type(event)
    if not (_event_kinds.get(cls, 0) & _KIND_EVENT and event.__class__ is cls):
        kinds = _kinds_of((event,))
        if kinds is None or not kinds[0] & _KIND_EVENT:
            return _rasa_update(self, event, domain)
    if self.model_id and _METADATA_MODEL_ID not in event.metadata:
        event.metadata = {**event.metadata, _METADATA_MODEL_ID: self.model_id}
    if self.assistant_id and _ASSISTANT_ID_KEY not in event.metadata:
        event.metadata = {**event.metadata, _ASSISTANT_ID_KEY: self.assistant_id}
    self.events.append(event)
    event.apply_to(self)
    return None


def _prior_trackers(self: Any) -> Any:
    """``DialogueStateTracker.generate_all_prior_trackers`` with ``isinstance(event,
    ActionExecuted)`` looked up by class."""
    tracker = self.init_copy()
    events = self.applied_events()
    kinds = _kinds_of(events) or [
        _KIND_EXECUTED if isinstance(event, _ActionExecuted) else _KIND_PLAIN
        for event in events]
    for event, kind in zip(events, kinds):
        if kind & _KIND_MASK == _KIND_EXECUTED:
            yield tracker, event.hide_rule_turn
        tracker.update(event)
    yield tracker, False


_rasa_diet_predict: Any = None
_NO_NUMPY_DIET = object()


def _diet_predict(self: Any, message: Any) -> Any:
    """``DIETClassifier._predict`` with the intent scores computed in numpy from the
    trained weights when the model is one ``diet_numpy`` reproduces (see above); Rasa's
    own TensorFlow path otherwise, and whenever diagnostic data are asked for."""
    fast = self.__dict__.get("_madoguchi_numpy_diet")
    if fast is None:
        from diet_numpy import NumpyDiet

        fast = (NumpyDiet.from_classifier(self) if self.model is not None else None) \
            or _NO_NUMPY_DIET
        self._madoguchi_numpy_diet = fast
    if fast is not _NO_NUMPY_DIET and not self._execution_context.should_add_diagnostic_data:
        scores = fast.scores(message)
        if scores is not None:
            return {"i_scores": scores}
    return _rasa_diet_predict(self, message)


def enabled() -> bool:
    """False when ``MADOGUCHI_RASA_SPEEDUPS`` is off, 0 or false (Rasa left as it is)."""
    return os.environ.get("MADOGUCHI_RASA_SPEEDUPS", "on").strip().lower() not in (
        "0", "off", "false")


def install() -> None:
    """Replace the slow Rasa methods listed in the module docstring (once per process)."""
    global _installed
    if _installed:
        return
    if not enabled():
        log.info("madoguchi rasa speedups switched off (MADOGUCHI_RASA_SPEEDUPS)")
        return
    from aiohttp.http_writer import StreamWriter

    from rasa.core.actions.action import RemoteAction
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer)
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import Event
    from rasa.shared.core import trackers as trackers_module
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.tensorflow import model_data_utils

    global _rasa_session, _rasa_diet_predict, _rasa_stream_write, _rasa_stream_drain
    global _check_responses, _rasa_create_features, _rasa_past_states, _rasa_possible_keys
    global _rasa_applied_events, _rasa_update, _rasa_prior_trackers, _ActionExecuted
    global _UserUttered, _METADATA_MODEL_ID, _ASSISTANT_ID_KEY
    _check_responses = "response_check" not in skipped()
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    model_data_utils._create_fake_features = _create_fake_features
    _rasa_session = EndpointConfig.session
    EndpointConfig.session = _endpoint_session  # type: ignore[method-assign]
    if "__init_subclass__" not in Event.__dict__ and "event_types" not in skipped():
        Event.__init_subclass__ = classmethod(_event_types_changed)  # type: ignore[assignment]
        Event.resolve_by_type = staticmethod(_resolve_event_type)  # type: ignore[method-assign]
    if "graph_order" not in skipped():
        DaskGraphRunner.run = _graph_run  # type: ignore[method-assign]
    if "one_write" not in skipped():
        _rasa_stream_write, _rasa_stream_drain = StreamWriter._write, StreamWriter.drain
        StreamWriter.write_headers = _write_headers  # type: ignore[method-assign]
        StreamWriter._write = _stream_write  # type: ignore[method-assign]
        StreamWriter.drain = _stream_drain  # type: ignore[method-assign]
    _rasa_create_features = CountVectorsFeaturizer._create_features
    if "count_vectors" not in skipped():
        CountVectorsFeaturizer._create_features = (  # type: ignore[method-assign]
            _create_count_features)
    _rasa_past_states = DialogueStateTracker.past_states
    if "past_states" not in skipped():
        DialogueStateTracker.past_states = _past_states  # type: ignore[method-assign]
    from rasa.shared.constants import ASSISTANT_ID_KEY
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.nlu.constants import METADATA_MODEL_ID

    _ActionExecuted, _UserUttered = ActionExecuted, UserUttered
    _METADATA_MODEL_ID, _ASSISTANT_ID_KEY = METADATA_MODEL_ID, ASSISTANT_ID_KEY
    _rasa_applied_events = DialogueStateTracker.applied_events
    _rasa_update = DialogueStateTracker.update
    _rasa_prior_trackers = DialogueStateTracker.generate_all_prior_trackers
    if "event_checks" not in skipped():
        DialogueStateTracker.applied_events = _applied_events  # type: ignore[method-assign]
        DialogueStateTracker.update = _tracker_update  # type: ignore[method-assign]
        DialogueStateTracker.generate_all_prior_trackers = (  # type: ignore[method-assign]
            _prior_trackers)
    _rasa_possible_keys = RulePolicy._get_possible_keys
    if "rule_keys" not in skipped():
        RulePolicy._get_possible_keys = _possible_rule_keys  # type: ignore[method-assign]
    if "slot_copy" not in skipped() and trackers_module.copy is copy:
        trackers_module.copy = _CopyModule()  # type: ignore[assignment]
    _rasa_diet_predict = DIETClassifier._predict
    if "diet_numpy" not in skipped():
        DIETClassifier._predict = _diet_predict  # type: ignore[method-assign]
    _installed = True
    log.info("madoguchi rasa speedups installed in pid %d: action response validator "
             "built once, DIET's empty features without copying, HTTP sessions kept, "
             "DIET's intent scores in numpy, event types looked up in a map, graphs run in "
             "dask's order without dask, request head and body in one write, responses checked "
             "event by event, counts straight into COO, past states once per tracker, "
             "rule lookup with reversed rules, slots copied directly, event checks by class "
             "(skipped: %s)",
             os.getpid(), ",".join(sorted(skipped())) or "none")
