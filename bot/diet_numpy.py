"""DIET's intent prediction in numpy, from the trained model's own weights (issue 8).

With ``number_of_transformer_layers: 0`` (config.yml) DIET's forward pass at predict time
is small: nothing mixes the token positions, and the intent is read at the sentence
position, so only the sentence-level features count. For one message it is

    sparse sentence features × kernel + bias  ┐
    dense sentence features (e5)              ┴ concatenated → unify-dims layer (gelu)
    → the text FFNN (none here) → ``embed.text`` → dot product with the label embeddings
    (Rasa's ``all_labels_embed``) → softmax,

a few hundred multiply-adds after a gather of the message's non-zero rows of the sparse
kernel. Rasa runs it through TensorFlow (model data, a generator, tensor conversion, a
``tf.function`` call), which cost ~12 % of the Rasa server's CPU under ``bench.load`` for
the arithmetic above. ``NumpyDiet`` holds the same weights as numpy arrays (read once from
the loaded Keras layers) and computes the same scores; ``tests/bot/test_rasa_speedups.py``
checks the same ranking and confidences within 1e-5 on every NLU example.

``NumpyDiet.from_classifier`` returns None for any model it does not reproduce exactly
(a transformer, entity recognition, cosine similarity, other activations or confidences,
a subclass such as ResponseSelector): Rasa's own path then runs, as it does with diagnostic data on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import numpy as np

log = logging.getLogger(__name__)

_TEXT, _SENTENCE = "text", "sentence"


def _product(subscripts: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A matrix product without BLAS: products this small are not worth OpenBLAS's threads,
    whose workers then spin after every call (measured: 0.5 ms of CPU per 1×512 @ 512×128
    product when calls are apart, as messages are, against 0.01 ms in a tight loop; the
    Rasa server's CPU per message went up, not down, with ``@``). ``einsum`` without
    ``optimize`` runs numpy's own loop, in this thread."""
    return np.einsum(subscripts, a, b)


@dataclass(frozen=True)
class _Dense:
    """One dense layer: ``activation(x @ kernel + bias)``, activation ``"gelu"`` or None."""

    kernel: np.ndarray
    bias: Optional[np.ndarray]
    activation: Optional[str]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = _product("bi,ij->bj", x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        if self.activation == "gelu":  # tf.nn.gelu(approximate=False)
            from scipy.special import erf

            y = 0.5 * y * (1.0 + erf(y / np.sqrt(2.0)))
        return y


class Unsupported(Exception):
    """The model is not one whose forward pass ``NumpyDiet`` reproduces."""


def _activation(layer: Any) -> Optional[str]:
    import tensorflow as tf

    act = layer.activation
    if act is None or act is tf.keras.activations.linear:
        return None
    if act is tf.nn.gelu or getattr(act, "__name__", "") == "gelu":
        return "gelu"
    raise Unsupported(f"activation {act!r} of layer {layer.name}")


def _dense(layer: Any) -> _Dense:
    """The weights of a Keras Dense (or Rasa's RandomlyConnectedDense / DenseForSparse)."""
    kernel = layer.kernel.numpy()
    mask = getattr(layer, "kernel_mask", None)
    if mask is not None and getattr(layer, "density", 1.0) < 1.0:
        kernel = kernel * mask.numpy()  # what RandomlyConnectedDense.call assigns
    bias = layer.bias.numpy() if layer.use_bias else None
    return _Dense(kernel, bias, _activation(layer))


def _ffnn(ffnn: Any) -> List[_Dense]:
    """Rasa's Ffnn: dense layers (gelu) and dropouts (identity at predict time)."""
    import tensorflow as tf

    from rasa.utils.tensorflow.layers import RandomlyConnectedDense

    out = []
    for layer in ffnn._ffn_layers:
        if isinstance(layer, RandomlyConnectedDense):
            out.append(_dense(layer))
        elif not isinstance(layer, tf.keras.layers.Dropout):
            raise Unsupported(f"layer {layer!r} in {ffnn.name}")
    return out


@dataclass(frozen=True)
class NumpyDiet:
    """DIET's intent scores for one message, from the trained weights (see module doc)."""

    featurizers: List[str]
    sparse_units: int  # 0: no sparse sentence features in the model
    dense_units: int  # 0: no dense sentence features
    sparse_to_dense: Optional[_Dense]
    layers: Tuple[_Dense, ...]  # unify dims, text FFNN, embed.text
    labels_embed: np.ndarray  # (labels, embedding dimension)

    @classmethod
    def from_classifier(cls, classifier: Any) -> Optional["NumpyDiet"]:
        """The numpy forward pass of ``classifier``'s model, or None if it is not one this
        class reproduces (the reason is logged)."""
        try:
            return cls._build(classifier)
        except Unsupported as e:
            log.info("DIET intent prediction stays on TensorFlow: %s", e)
            return None

    @classmethod
    def _build(cls, classifier: Any) -> "NumpyDiet":
        from rasa.nlu.classifiers.diet_classifier import DIET, DIETClassifier
        from rasa.utils.tensorflow.layers import Embed

        config = classifier.component_config
        model = classifier.model
        if type(classifier) is not DIETClassifier or type(model) is not DIET:
            raise Unsupported(f"{type(classifier).__name__} with {type(model).__name__}")
        layers_n = config["number_of_transformer_layers"]
        if isinstance(layers_n, dict):
            layers_n = layers_n.get(_TEXT, 0)
        if (layers_n != 0 or not config["intent_classification"]
                or config["entity_recognition"] or config["model_confidence"] != "softmax"
                or config["similarity_type"] != "inner"):
            raise Unsupported("configuration (transformer, entities or confidence type)")
        sequence = model._tf_layers[f"sequence_layer.{_TEXT}"]
        if sequence._has_transformer or model.all_labels_embed is None:
            raise Unsupported("a transformer, or no label embeddings")
        combining = sequence._tf_layers["feature_combining"]
        if not combining._feature_types_present.get(_SENTENCE):
            raise Unsupported("no sentence-level features")
        signature = list(model.data_signature[_TEXT][_SENTENCE])
        sparse = [s for s in signature if s.is_sparse]
        dense = [s for s in signature if not s.is_sparse]
        if len(sparse) > 1 or len(dense) > 1 or signature != sparse + dense:
            raise Unsupported(f"sentence feature signature {signature}")
        concat = combining._tf_layers[f"sparse_dense.{_SENTENCE}"]
        if set(concat._tf_layers) - {"sparse_dropout", "sparse_to_dense", "dense_dropout"}:
            raise Unsupported(f"sentence layers {sorted(concat._tf_layers)}")
        sparse_to_dense = _dense(concat._tf_layers["sparse_to_dense"]) if sparse else None
        layers: List[_Dense] = []
        unify = combining._tf_layers.get(f"unify_dims_before_seq_sent_concat.{_SENTENCE}")
        if unify is not None:
            layers += _ffnn(unify)
        layers += _ffnn(sequence._tf_layers["ffnn"])
        embed = model._tf_layers[f"embed.{_TEXT}"]
        if type(embed) is not Embed:
            raise Unsupported(f"embed layer {embed!r}")
        layers.append(_dense(embed._dense))
        loss = model._tf_layers["loss.label"]
        if loss.model_confidence != "softmax" or loss.similarity_type != "inner":
            raise Unsupported(f"{loss.similarity_type} similarity, {loss.model_confidence}")
        return cls(
            featurizers=list(config["featurizers"] or []),
            sparse_units=sparse[0].units if sparse else 0,
            dense_units=dense[0].units if dense else 0,
            sparse_to_dense=sparse_to_dense,
            layers=tuple(layers),
            labels_embed=np.asarray(model.all_labels_embed),
        )

    def _sentence_vector(self, message: Any) -> Optional[np.ndarray]:
        """The combined sentence features (1, units) as Rasa's feature-combining layer makes
        them, or None when the message's features are not the model's (Rasa decides)."""
        _, sparse = message._filter_sparse_features(_TEXT, self.featurizers)
        _, dense = message._filter_dense_features(_TEXT, self.featurizers)
        if bool(sparse) != bool(self.sparse_units) or bool(dense) != bool(self.dense_units):
            return None
        parts = []
        if sparse:
            # Rasa hstacks the featurizers' matrices in message order; the product with the
            # kernel is the sum of the kernel rows of the non-zero columns, by value.
            total = np.zeros(self.sparse_to_dense.kernel.shape[1], np.float32)
            offset = 0
            for f in sparse:
                m = f.features.tocoo()
                if m.shape[0] != 1:
                    return None
                rows = self.sparse_to_dense.kernel[offset + m.col]
                total += _product("i,ij->j", m.data.astype(np.float32), rows)
                offset += m.shape[1]
            if offset != self.sparse_units:
                return None
            out = total[None, :]
            if self.sparse_to_dense.bias is not None:
                out = out + self.sparse_to_dense.bias
            parts.append(out)
        if dense:
            vectors = [np.asarray(f.features, np.float32) for f in dense]
            if any(v.ndim != 2 or v.shape[0] != 1 for v in vectors):
                return None
            vector = np.concatenate(vectors, axis=-1)
            if vector.shape[1] != self.dense_units:
                return None
            parts.append(vector)
        return np.concatenate(parts, axis=-1)

    def scores(self, message: Any) -> Optional[np.ndarray]:
        """Softmax confidences over the labels, shaped (1, 1, labels) like Rasa's
        ``i_scores``; None when the message's features do not fit the model."""
        x = self._sentence_vector(message)
        if x is None:
            return None
        for layer in self.layers:
            x = layer(x)
        sim = _product("lj,j->l", self.labels_embed, x[0]).astype(np.float64)
        e = np.exp(sim - sim.max())
        return (e / e.sum()).astype(np.float32)[None, None, :]
