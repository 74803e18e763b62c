"""Chat latency and memory of the running stack (issue 2's figures).

Starts ``madoguchi serve`` on free ports (unless ``--url`` points at a running gateway),
waits until Rasa answers, sends N sequential questions to ``/api/chat`` and prints the
median and p95 latency of each path, plus the RSS of every process of the stack.

    .venv/bin/python -m bench.chat_latency [--n 50] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from adapters.stack import free_port, popen

QUESTIONS = [
    "保育園の申し込みはいつまでですか",
    "When is the deadline to apply for a nursery school?",
    "児童手当の申請はどうすればいいですか",
    "燃えるごみの収集日を教えて",
    "転入届に必要なものは？",
]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_tree(pid: int) -> list[int]:
    out = [pid]
    for child in Path("/proc").glob("[0-9]*"):
        try:
            fields = (child / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.extend(process_tree(int(child.name)))
    return out


def process_name(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(c.decode(errors="replace") for c in cmd if c)
    if "run actions" in text:
        return "action server"
    if "rasa run" in text:
        return "rasa server"
    if "madoguchi" in text and "serve" in text:
        return "gateway (+ retrieval)"
    return text[:60]


def start_stack(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``madoguchi serve`` on free ports with ``env`` (the load harness uses it too)."""
    port, rasa, actions = free_port(), free_port(), free_port()
    env = {**env, "MADOGUCHI_GATEWAY__PORT": str(port),
           "MADOGUCHI_RASA__URL": f"http://127.0.0.1:{rasa}", "MADOGUCHI_RASA__PORT": str(rasa),
           "MADOGUCHI_RASA__ACTION_URL": f"http://127.0.0.1:{actions}",
           "MADOGUCHI_RASA__ACTION_PORT": str(actions)}
    # popen: the stack dies with this process even when it is SIGKILLed (adapters/stack.py).
    proc = popen([sys.executable, "-m", "adapters.cli", "serve"], env=env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def stop_stack(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to ``madoguchi serve``, which stops its children in order."""
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(60)


def wait_rasa(url: str, timeout_s: float = 300) -> float:
    """Seconds until the gateway at ``url`` reports Rasa and the action server up."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            health = httpx.get(f"{url}/api/health", timeout=2).json()
            components = health["components"]
            if all(components[c]["status"] == "up" for c in ("rasa", "action_server")):
                return time.monotonic() - started
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"stack at {url} not ready after {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--url")
    args = parser.parse_args()
    proc = None
    url = args.url
    if not url:
        proc, url = start_stack(dict(os.environ))
    try:
        ready = wait_rasa(url)
        print(f"stack ready in {ready:.1f} s")
        modes: dict[str, list[float]] = {}
        with httpx.Client(timeout=30) as client:
            for i in range(args.n):
                body = {"sender": f"bench-{i}", "message": QUESTIONS[i % len(QUESTIONS)]}
                t0 = time.perf_counter()
                r = client.post(f"{url}/api/chat", json=body)
                elapsed = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                modes.setdefault(r.headers.get("X-Madoguchi-Mode", "?"), []).append(elapsed)
        for mode, times in modes.items():
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
            print(f"/api/chat via {mode}: n={len(times)} median {statistics.median(times):.0f} ms"
                  f"  p95 {p95:.0f} ms  max {times[-1]:.0f} ms")
        if proc:
            for pid in process_tree(proc.pid):
                try:
                    print(f"RSS {process_name(pid):28s} pid {pid:6d}: {_rss_mb(pid):7.0f} MB")
                except OSError:
                    pass
    finally:
        if proc:
            stop_stack(proc)


if __name__ == "__main__":
    main()
