"""`make bench`: every benchmark, one after the other, printing its figures."""

from __future__ import annotations

import runpy
import sys

BENCHMARKS = [
    "bench.chat_latency",
    "bench.retrieval_quality",
    "bench.retrieval_speed",
    "bench.minutes_bench",
    "bench.nlu_eval",
]


def main() -> None:
    for name in BENCHMARKS:
        print(f"=== {name}", flush=True)
        sys.argv = [name]
        runpy.run_module(name, run_name="__main__")


if __name__ == "__main__":
    main()
