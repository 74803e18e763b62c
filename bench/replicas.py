"""Throughput of 1 vs 2 gateway replicas on one port (SO_REUSEPORT), in one run.

    .venv/bin/python -m bench.replicas [--messages 400] [--concurrency 16] [--rounds 2]
        [--rasa-url http://127.0.0.1:5005 --action-url http://127.0.0.1:5055 --port 8000]

Starts ``madoguchi serve --no-rasa --reuse-port`` on a free port (replica A), measures, starts a
second one on the same port (replica B), measures, stops B, and so on for ``--rounds`` (ABAB:
the machine's load drifts, so the two settings alternate). Each phase posts ``--messages``
FAQ questions (the load harness's query set, ``bench/load/messages.py``) to ``/api/chat`` from
``--concurrency`` clients, each client on its own connection (SO_REUSEPORT balances
connections). Prints msg/s, p50/p95 and which replicas answered.

Without ``--rasa-url`` the gateways point at a closed port, so every chat is answered from
retrieval (the degraded path): the gateway's own work, which is what replicas add capacity for.
With it, the whole path through that Rasa is measured (Rasa is then the usual bottleneck).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from adapters.stack import free_port
from bench.load.messages import load_queries

ROOT = Path(__file__).resolve().parent.parent


def start_replica(port: int, args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MADOGUCHI_RASA__URL": args.rasa_url or f"http://127.0.0.1:{free_port()}",
        "MADOGUCHI_RASA__ACTION_URL": args.action_url or f"http://127.0.0.1:{free_port()}",
        "MADOGUCHI_STORAGE__DATA_DIR": str(args.data_dir),
        "MADOGUCHI_CLERK__EMBEDDED_WORKER": "false",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--no-rasa", "--reuse-port",
             "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_pids(url: str, want: int, timeout_s: float = 300) -> set[int]:
    """Poll /api/health on new connections until ``want`` distinct pids answered."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(seen) < want:
        if time.monotonic() > deadline:
            raise SystemExit(f"only replicas {seen} answered within {timeout_s:.0f} s")
        try:
            seen.add(httpx.get(f"{url}/api/health", timeout=10).json()["pid"])
        except (httpx.HTTPError, KeyError, ValueError):
            time.sleep(0.5)
    return seen


async def phase(url: str, texts: list[str], concurrency: int) -> dict[str, float]:
    """Post every text to /api/chat from ``concurrency`` clients; figures of the phase."""
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for i, text in enumerate(texts):
        queue.put_nowait((i, text))
    latencies: list[float] = []
    errors = 0
    modes: Counter[str] = Counter()
    pids: Counter[int] = Counter()

    async def client(n: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=30) as http:  # one connection per client
            pid = (await http.get(f"{url}/api/health")).json()["pid"]
            pids[pid] += 1
            while not queue.empty():
                i, text = queue.get_nowait()
                started = time.perf_counter()
                try:
                    r = await http.post(f"{url}/api/chat",
                                        json={"sender": f"bench-{n}-{i}", "message": text})
                    ok = r.status_code == 200 and bool(r.json())
                    modes[r.headers.get("X-Madoguchi-Mode", "?")] += ok
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "msg_s": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] if latencies else 0.0,
        "p95": latencies[int(len(latencies) * 0.95)] if latencies else 0.0,
        "errors": errors,
        "degraded": modes["degraded"],
        "replicas": len(pids),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rasa-url", default="")
    p.add_argument("--action-url", default="")
    p.add_argument("--port", type=int, default=0,
                   help="the replicas' port (default: a free one); with --rasa-url, the one "
                        "its action server calls back")
    p.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-replicas")
    args = p.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    queries = [q.text for qs in load_queries().values() for q in qs]
    texts = [queries[(i * 7919) % len(queries)] for i in range(args.messages)]
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); "
          f"path: {'through Rasa at ' + args.rasa_url if args.rasa_url else 'retrieval only'}")
    a = start_replica(port, args, args.data_dir / "replica-a.log")
    b: subprocess.Popen[bytes] | None = None
    results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    try:
        wait_pids(url, 1)
        asyncio.run(phase(url, texts[:32], 4))  # warm-up
        for _ in range(args.rounds):
            for n in (1, 2):
                if n == 2:
                    b = start_replica(port, args, args.data_dir / "replica-b.log")
                    wait_pids(url, 2)
                    asyncio.run(phase(url, texts[:32], 4))  # B's warm-up (spread over both)
                r = asyncio.run(phase(url, texts, args.concurrency))
                results[n].append(r)
                print(f"  {n} replica(s): {r['msg_s']:6.1f} msg/s  p50 {r['p50']:6.0f} ms  "
                      f"p95 {r['p95']:6.0f} ms  errors {r['errors']}  degraded {r['degraded']}  "
                      f"(clients on {r['replicas']} replica(s))", flush=True)
                if n == 2 and b is not None:
                    _stop(b)
                    b = None
                    time.sleep(1)
    finally:
        for proc in (a, b):
            if proc is not None:
                _stop(proc)
    one = statistics.median(r["msg_s"] for r in results[1])
    two = statistics.median(r["msg_s"] for r in results[2])
    print(f"median throughput: 1 replica {one:.1f} msg/s, 2 replicas {two:.1f} msg/s "
          f"(× {two / one:.2f}); load average at end {os.getloadavg()[0]:.2f}")
    return 0 if all(r["errors"] == 0 for rs in results.values() for r in rs) else 1


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


if __name__ == "__main__":
    raise SystemExit(main())
