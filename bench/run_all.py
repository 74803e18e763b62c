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
    "bench.load",
]


def main() -> None:
    failed = []
    for name in BENCHMARKS:
        print(f"=== {name}", flush=True)
        sys.argv = [name]
        try:
            runpy.run_module(name, run_name="__main__")
        except SystemExit as exc:  # a benchmark that exits (bench.load: 1 on errors)
            if exc.code not in (None, 0):
                failed.append(name)
    if failed:
        sys.exit(f"benchmarks that reported failure: {', '.join(failed)}")


if __name__ == "__main__":
    main()
