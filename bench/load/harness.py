"""Run the load phases against a madoguchi stack and print the figures.

    .venv/bin/python -m bench.load [--messages 10000] [--concurrency 32]
        [--sustained-messages 1500] [--sustained-concurrency 16] [--duration-max 150]
        [--line-share 0.5] [--bare-messages 2000] [--url http://127.0.0.1:8000 --rasa-url …]

Without ``--url`` the harness starts the whole stack itself (``madoguchi serve`` on free
ports, as ``bench.chat_latency`` does, with a fresh data directory under
``var/load/run-<pid>`` and the LINE channel pointed at the harness's fake LINE API) and stops it at the end.

Two phases, each first end to end (the gateway: REST ``/api/chat`` and signed LINE webhooks,
answered through the fake LINE API), then bare Rasa (the same messages, at the same
concurrency, posted straight to Rasa's REST channel):

- ``sustained``: ``--sustained-messages`` at ``--sustained-concurrency`` (target: ≥ 50 msg/s,
  p95 ≤ 150 ms at 16);
- ``volume``: ``--messages`` at ``--concurrency`` (target: 10,000 at 32 with 0 errors); bare
  Rasa gets the first ``--bare-messages`` of them (the ratio needs no more, and the run stays
  within a few minutes).

``--rates 20,35,50`` (the default; ``--rates ''`` for none) adds paced phases after ``sustained``: end to end, messages sent at each
fixed rate (open loop, at most ``--sustained-concurrency`` in flight) for ``--rate-seconds``
each, and the highest rate whose p95 stays ≤ 150 ms. The closed ``sustained`` phase keeps 16
residents waiting on answers and nothing else, so its p95 is 16 / throughput by Little's
law; the paced phases say what latency residents get at a given arrival rate.

Every phase stops sending new messages after ``--duration-max`` seconds (messages not sent
are reported as such, not as errors). A LINE message counts from the webhook POST until its
answer reaches the fake LINE API; an error is anything but an answer: HTTP error, timeout,
an empty answer, an answer never delivered. Answers from the degraded path (retrieval alone,
Rasa not answering) are answers, counted apart. CPU seconds per message of each process of
the stack tell where the time goes (the figure that matters on a shared machine).

Bare Rasa still calls the action server, which calls the gateway's ``/api/faq/answer`` for FAQ
questions: the gateway's retrieval is part of both figures; the ratio is the cost of the
gateway's own path (channel handling, language detection, the extra hop).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from adapters.http_pool import http_client
from adapters.line.signature import sign
from adapters.rasa_client import shard
from adapters.stack import free_port
from bench.chat_latency import process_name, process_tree, start_stack, stop_stack, wait_rasa
from bench.load.client import RawClient
from bench.load.fake_line import FakeLineApi, serving, serving_raw
from bench.load.messages import Query, Resident, residents

RASA_CHANNEL = "/webhooks/madoguchi/webhook"
ROOT = Path(__file__).resolve().parent.parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Outcome:
    ok: bool
    ms: float
    channel: str
    detail: str = ""  # error kind, or "degraded" / "push" for answers worth counting


@dataclass
class PhaseResult:
    """What one pass over the residents measured."""

    name: str
    concurrency: int
    planned: int
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    rasa_split_s: list[float] = field(default_factory=list)  # CPU of each Rasa process
    late: int = 0  # paced phases: messages sent > 50 ms after their time
    # Messages whose exact text this run had sent before (any phase, either path): the
    # gateway's query cache (adapters/embed_cache.py) answers those without an embedding,
    # so a phase's CPU per message depends on this share.
    repeated: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    @property
    def throughput(self) -> float:
        ok = len(self.outcomes) - self.errors
        return ok / self.wall_s if self.wall_s else 0.0

    def latencies(self, channel: str | None = None) -> list[float]:
        return sorted(o.ms for o in self.outcomes if o.ok and channel in (None, o.channel))


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_ms:
        return 0.0
    rank = max(1, min(len(sorted_ms), int(-(-q * len(sorted_ms) // 100))))
    return sorted_ms[rank - 1]


# -- one message ---------------------------------------------------------------------------


class Targets:
    """How to send one message through each path."""

    def __init__(self, http: httpx.AsyncClient | RawClient, gateway: str,
                 rasa: str | list[str], fake: FakeLineApi, secret: str, timeout_s: float) -> None:
        self.http = http
        self.gateway = gateway.rstrip("/")
        # Every Rasa process, in the gateway's hash order: bare Rasa messages go to the one
        # the gateway would pick for the same sender (adapters.rasa_client.shard).
        self.rasa = [u.rstrip("/") for u in ([rasa] if isinstance(rasa, str) else rasa)]
        self.fake = fake
        self.secret = secret
        self.timeout_s = timeout_s

    async def _post_chat(self, url: str, body: dict[str, object], channel: str) -> Outcome:
        """POST a Rasa-REST-shaped message; an answer is a list with some text in it."""
        t0 = time.perf_counter()
        try:
            r = await self.http.post(url, json=body, timeout=self.timeout_s)
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                return Outcome(False, ms, channel, f"HTTP {r.status_code}")
            messages = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            return Outcome(False, (time.perf_counter() - t0) * 1000, channel, type(exc).__name__)
        if not _answered(messages):
            return Outcome(False, ms, channel, "empty answer")
        degraded = r.headers.get("X-Madoguchi-Mode") == "degraded"
        return Outcome(True, ms, channel, "degraded" if degraded else "")

    async def rest(self, resident: Resident, query: Query) -> Outcome:
        body = {"sender": resident.sender, "message": query.text}
        return await self._post_chat(f"{self.gateway}/api/chat", body, "rest")

    async def line(self, resident: Resident, query: Query) -> Outcome:
        user, token = resident.line_user, uuid.uuid4().hex
        event = {
            "type": "message",
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
            "replyToken": token,
            "message": {"id": str(uuid.uuid4().int)[:18], "type": "text", "text": query.text,
                        "quoteToken": uuid.uuid4().hex},
        }
        body = json.dumps({"destination": "U" + "0" * 32, "events": [event]},
                          ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "x-line-signature": sign(self.secret, body)}
        self.fake.profiles[user] = resident.line_profile_lang
        delivered = self.fake.expect(token, user)
        t0 = time.perf_counter()
        try:
            r = await self.http.post(f"{self.gateway}/line/webhook", content=body,
                                     headers=headers, timeout=self.timeout_s)
            if r.status_code != 200:
                return Outcome(False, (time.perf_counter() - t0) * 1000, "line",
                               f"webhook HTTP {r.status_code}")
            left = self.timeout_s - (time.perf_counter() - t0)
            delivery = await asyncio.wait_for(delivered, max(0.1, left))
        except httpx.HTTPError as exc:
            return Outcome(False, (time.perf_counter() - t0) * 1000, "line", type(exc).__name__)
        except asyncio.TimeoutError:
            return Outcome(False, (time.perf_counter() - t0) * 1000, "line", "no answer in time")
        finally:
            self.fake.forget(token, user)
        ms = (delivery.at - t0) * 1000
        if not delivery.messages:
            return Outcome(False, ms, "line", "empty answer")
        return Outcome(True, ms, "line", "push" if delivery.how == "push" else "")

    async def bare(self, resident: Resident, query: Query) -> Outcome:
        # The metadata the gateway would send for a correctly detected language.
        sender = f"bare-{resident.sender}"
        body = {"sender": sender, "message": query.text,
                "metadata": {"lang": query.lang, "lang_source": "detected"}}
        rasa = self.rasa[shard(sender, len(self.rasa))]
        return await self._post_chat(f"{rasa}{RASA_CHANNEL}", body, "bare")

    async def end_to_end(self, resident: Resident, query: Query) -> Outcome:
        if resident.channel == "line":
            return await self.line(resident, query)
        return await self.rest(resident, query)


def _answered(messages: object) -> bool:
    return isinstance(messages, list) and any(
        isinstance(m, dict) and (m.get("text") or m.get("custom") or m.get("buttons"))
        for m in messages
    )


# -- one phase -----------------------------------------------------------------------------

Send = Callable[[Resident, Query], Awaitable[Outcome]]
# Every text this run has sent (PhaseResult.repeated); emptied when the phases start.
SENT_TEXTS: set[str] = set()


async def run_phase(name: str, send: Send, people: list[Resident], concurrency: int,
                    duration_max_s: float, pids: list[int], rate: float | None = None
                    ) -> PhaseResult:
    """``concurrency`` workers, each taking the next resident and asking their questions in
    order; no new message after ``duration_max_s``.

    ``rate``: paced (open loop) instead of as fast as answers come back — message *i* of the
    phase is sent at ``i / rate`` seconds, by whichever worker is free; a message no worker
    was free to send within 50 ms of its time counts as ``late`` (then the offered rate was
    not held, and the latencies flatter the system)."""
    planned = sum(len(p.questions) for p in people)
    result = PhaseResult(name, concurrency, planned)
    queue: asyncio.Queue[Resident] = asyncio.Queue()
    for person in people:
        queue.put_nowait(person)
    cpu0, split0 = cpu_seconds(pids), rasa_cpu_seconds(pids)
    t0 = time.perf_counter()
    deadline = t0 + duration_max_s
    tickets = [0]

    async def paced() -> None:
        due = t0 + tickets[0] / rate  # type: ignore[operator]
        tickets[0] += 1
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.05:
            result.late += 1

    async def worker() -> None:
        while not queue.empty():
            person = queue.get_nowait()
            for query in person.questions:
                if rate:
                    await paced()
                if time.perf_counter() > deadline:
                    return
                if query.text in SENT_TEXTS:
                    result.repeated += 1
                SENT_TEXTS.add(query.text)
                result.outcomes.append(await send(person, query))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - t0
    cpu1, split1 = cpu_seconds(pids), rasa_cpu_seconds(pids)
    result.cpu_s = {k: cpu1.get(k, 0.0) - v for k, v in cpu0.items()}
    result.rasa_split_s = [b - a for a, b in zip(split0, split1)]
    return result


def rasa_cpu_seconds(pids: list[int]) -> list[float]:
    """User + system CPU seconds of each Rasa server process (in ``pids`` order)."""
    out = []
    for pid in pids:
        try:
            if process_name(pid) != "rasa server":
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.append((int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def cpu_seconds(pids: list[int]) -> dict[str, float]:
    """User + system CPU seconds of each process, by role (this harness included)."""
    out: dict[str, float] = {}
    for pid in [*pids, os.getpid()]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            name = "load harness" if pid == os.getpid() else process_name(pid)
            if "adapters.cli serve" in name:
                name = "gateway (+ retrieval)"
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


# -- report --------------------------------------------------------------------------------


def summary_line(label: str, result: PhaseResult, channel: str | None = None) -> str:
    outcomes = [o for o in result.outcomes if channel in (None, o.channel)]
    ms = result.latencies(channel)
    errors = sum(1 for o in outcomes if not o.ok)
    notes = Counter(o.detail for o in outcomes if o.ok and o.detail)
    kinds = Counter(o.detail for o in outcomes if not o.ok)
    text = (f"  {label:<22} n={len(outcomes):5d} errors={errors:<4d}")
    if channel is None:
        text += f" {result.throughput:6.1f} msg/s"
    else:
        text += " " * 13
    text += (f"  p50 {percentile(ms, 50):6.0f}  p95 {percentile(ms, 95):6.0f}"
             f"  p99 {percentile(ms, 99):6.0f}  mean {statistics.fmean(ms) if ms else 0:6.0f} ms")
    if notes:
        text += "  (" + ", ".join(f"{k} {v}" for k, v in sorted(notes.items())) + ")"
    if kinds:
        text += "  errors: " + ", ".join(f"{k} ×{v}" for k, v in kinds.most_common(5))
    return text


def cpu_line(result: PhaseResult) -> str:
    done = max(1, len(result.outcomes))
    parts = [f"{name} {secs * 1000 / done:.1f}" for name, secs in
             sorted(result.cpu_s.items(), key=lambda kv: -kv[1]) if secs > 0]
    total = sum(result.cpu_s.values()) * 1000 / done
    text = f"  CPU ms/message: total {total:.1f} = " + ", ".join(parts)
    if len(result.rasa_split_s) > 1:
        text += " (rasa server: " + " + ".join(
            f"{secs * 1000 / done:.1f}" for secs in result.rasa_split_s) + ")"
    if result.outcomes:
        text += f"; texts sent before in this run: {100 * result.repeated / done:.0f} %"
    return text


def report_phase(e2e: PhaseResult, bare: PhaseResult | None) -> dict[str, float]:
    sent = len(e2e.outcomes)
    print(f"phase {e2e.name}: {e2e.concurrency} concurrent, {sent}/{e2e.planned} messages sent "
          f"in {e2e.wall_s:.1f} s"
          + ("" if sent == e2e.planned else " (stopped by --duration-max)"))
    print(summary_line("end-to-end (all)", e2e))
    for channel, label in (("rest", "  REST /api/chat"), ("line", "  LINE webhook→reply")):
        if any(o.channel == channel for o in e2e.outcomes):
            print(summary_line(label, e2e, channel))
    print(cpu_line(e2e))
    ratios: dict[str, float] = {}
    if bare is not None:
        print(f"  bare Rasa: {len(bare.outcomes)}/{bare.planned} messages in {bare.wall_s:.1f} s")
        print(summary_line("bare Rasa REST", bare))
        print(cpu_line(bare))
        e_ms, b_ms = e2e.latencies(), bare.latencies()
        if e_ms and b_ms and bare.throughput:
            ratios = {
                "mean": statistics.fmean(e_ms) / statistics.fmean(b_ms),
                "p50": percentile(e_ms, 50) / percentile(b_ms, 50),
                "p95": percentile(e_ms, 95) / percentile(b_ms, 95),
                "1/throughput": bare.throughput / e2e.throughput if e2e.throughput else 0.0,
            }
            e_cpu = sum(e2e.cpu_s.values()) / max(1, len(e2e.outcomes))
            b_cpu = sum(bare.cpu_s.values()) / max(1, len(bare.outcomes))
            if b_cpu:
                ratios["CPU/message"] = e_cpu / b_cpu
            print("  ratio end-to-end / bare Rasa: " +
                  ", ".join(f"{k} {v:.2f}×" for k, v in ratios.items()))
    return ratios


def verdict(name: str, ok: bool, detail: str) -> None:
    print(f"  target {name}: {'MET' if ok else 'NOT MET'} ({detail})")


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=10_000, help="volume phase: messages")
    p.add_argument("--concurrency", type=int, default=32, help="volume phase: concurrent residents")
    p.add_argument("--sustained-messages", type=int, default=600,
                   help="sustained phase: messages (0 skips the phase)")
    p.add_argument("--sustained-concurrency", type=int, default=16)
    p.add_argument("--rates", type=lambda v: [float(x) for x in v.split(",") if x.strip()],
                   default=[20.0, 35.0, 50.0],
                   help="paced phases: offered rates in msg/s, comma-separated (open loop, at "
                        "most --sustained-concurrency in flight; '' for none)")
    p.add_argument("--rate-seconds", type=float, default=20.0,
                   help="paced phases: seconds of messages per rate")
    p.add_argument("--bare-messages", type=int, default=1000,
                   help="volume phase: messages also sent to bare Rasa (0: none)")
    p.add_argument("--duration-max", type=float, default=270.0,
                   help="seconds for all measured phases together; each phase gets a share in "
                        "proportion to its messages and sends nothing new after it")
    p.add_argument("--line-share", type=float, default=0.5, help="share of residents on LINE")
    p.add_argument("--warmup", type=int, default=32, help="unmeasured messages per path first")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before a message fails")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--rasa-processes", type=int, default=None,
                   help="Rasa processes of the stack started here (rasa.processes; default: "
                        "the setting's, 2 on ≥ 2 cores)")
    p.add_argument("--http", choices=("auto", "h11", "httptools"), default=None,
                   help="the started gateway's HTTP parser (gateway.http; default auto)")
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default=None,
                   help="the started gateway's event loop (gateway.loop; default auto)")
    p.add_argument("--harness-client", choices=("raw", "lean", "plain"), default="raw",
                   help="the harness's own HTTP client, all sending the same requests: httpx's "
                        "bytes on an asyncio protocol (bench/load/client.py), the gateway's "
                        "httpx pool (adapters/http_pool.py) or httpx as it is (for A/B runs of "
                        "the harness's CPU)")
    p.add_argument("--harness-line-server", choices=("raw", "uvicorn"), default="raw",
                   help="the server of the harness's fake LINE API, both with the same "
                        "handlers and checks: an asyncio protocol with httptools' parser, or "
                        "uvicorn and Starlette (for A/B runs of the harness's CPU)")
    p.add_argument("--harness-loop", choices=("uvloop", "asyncio"), default="uvloop",
                   help="the harness's event loop (for A/B runs of the harness's CPU)")
    p.add_argument("--harness-profile", metavar="PATH", default="",
                   help="write a CPU-time cProfile (time.thread_time) of the harness's own "
                        "process over the measured phases (warm-up excluded) to PATH")
    p.add_argument("--url", help="a running gateway (default: start the stack here)")
    p.add_argument("--rasa-url", help="its Rasa server (default: from the gateway's /api/health)")
    p.add_argument("--line-secret", default="",
                   help="with --url: the gateway's LINE channel secret (no LINE traffic without)")
    p.add_argument("--line-token", default="", help="with --url: its channel access token")
    p.add_argument("--line-port", type=int, default=0,
                   help="with --url: port of the fake LINE API the gateway is configured with")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.harness_loop == "uvloop":
        import uvloop

        results = uvloop.run(run(args))
    else:
        results = asyncio.run(run(args))
    return 0 if results["errors"] == 0 else 1


async def run(args: argparse.Namespace) -> dict[str, float]:
    """Start (or use) the stack, run the phases, print everything; returns the key figures."""
    started = time.monotonic()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)", flush=True)
    proc = None
    secret, token = args.line_secret, args.line_token
    line_port = args.line_port or free_port()
    url = args.url
    if not url:
        secret, token = secrets_for_run()
        data_dir = fresh_data_dir(ROOT / "var" / "load")
        env = {**os.environ,
               "MADOGUCHI_STORAGE__DATA_DIR": str(data_dir),
               "MADOGUCHI_LINE__CHANNEL_SECRET": secret,
               "MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN": token,
               "MADOGUCHI_LINE__API_BASE_URL": f"http://127.0.0.1:{line_port}",
               "MADOGUCHI_LINE__DATA_API_BASE_URL": f"http://127.0.0.1:{line_port}"}
        for name, value in (("MADOGUCHI_RASA__PROCESSES", args.rasa_processes),
                            ("MADOGUCHI_GATEWAY__HTTP", args.http),
                            ("MADOGUCHI_GATEWAY__LOOP", args.loop)):
            if value is not None:
                env[name] = str(value)
        print("stack settings: " + ", ".join(
            f"{k.removeprefix('MADOGUCHI_').lower()}={env.get(k, 'default')}"
            for k in ("MADOGUCHI_RASA__PROCESSES", "MADOGUCHI_GATEWAY__HTTP",
                      "MADOGUCHI_GATEWAY__LOOP")), flush=True)
        proc, url = start_stack(env)
        print(f"stack: madoguchi serve at {url}, data and logs in {data_dir}", flush=True)
    try:
        ready = wait_rasa(url)
        health = httpx.get(f"{url}/api/health", timeout=5).json()
        rasa = health["components"]["rasa"]
        processes = [p["url"] for p in rasa.get("processes", [])] or [rasa["url"]]
        rasa_url: str | list[str] = [args.rasa_url] if args.rasa_url else processes
        print(f"stack ready in {ready:.1f} s; Rasa at {', '.join(rasa_url)}", flush=True)
        # Without our own stack, only the gateway's CPU (its pid is in the health answer).
        pids = process_tree(proc.pid) if proc else [p for p in [health.get("pid")] if p]
        return await measure(args, url, rasa_url, secret, token, line_port, pids)
    finally:
        if proc:
            stop_stack(proc)
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"total {time.monotonic() - started:.0f} s", flush=True)


def fresh_data_dir(parent: Path) -> Path:
    """An empty ``parent/run-<pid>`` for this run's stack. Several harnesses may run at once
    in one checkout (engineers comparing A/B on a shared machine): each gets its own tracker
    store, LINE state and logs, and only the directories of runs whose process has gone
    are removed."""
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob("run-*"):
        pid = old.name.removeprefix("run-")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    data_dir = parent / f"run-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    return data_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def measure(args: argparse.Namespace, url: str, rasa_url: str | list[str], secret: str,
                  token: str,
                  line_port: int, pids: list[int], fake: FakeLineApi | None = None,
                  ) -> dict[str, float]:
    """Serve the fake LINE API on ``line_port`` and run the phases against ``url``."""
    fake = fake or FakeLineApi(token=token)
    line_share = args.line_share if secret else 0.0
    pool = max(args.concurrency, args.sustained_concurrency) * 2
    # Idle connections dropped after 4 s, before uvicorn's and Sanic's 5 s keep-alive closes
    # them under a request (a ReadError that would be the harness's, not the stack's).
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool,
                          keepalive_expiry=4.0)
    # The harness is the load generator, not the product, and its CPU is taken from the
    # stack's two cores: "raw" sends httpx's bytes without httpx (bench/load/client.py; the
    # client was ~85 % of the harness's CPU in a profile at 50 msg/s with "lean"); "lean" is
    # the gateway's own httpx client (adapters/http_pool.py), "plain" httpx as it is.
    how = getattr(args, "harness_client", "raw")
    client: Any
    if how == "raw":
        client = RawClient(pool, keepalive_expiry=4.0)
    elif how == "lean":
        client = http_client(limits, lean=True, epoll=True, reserve=True, acyclic=True)
    else:
        client = httpx.AsyncClient(limits=limits)
    # The fake LINE API on this loop: the same handlers behind httptools on a bare asyncio
    # protocol ("raw") or behind uvicorn and Starlette (bench/load/fake_line.py).
    server = getattr(args, "harness_line_server", "raw")
    line_server = (serving_raw(fake, line_port) if server == "raw"
                   else serving(fake.app(), line_port))
    print(f"harness: client {how}, fake LINE API server {server}, loop "
          f"{getattr(args, 'harness_loop', 'uvloop')}", flush=True)
    async with line_server, client as http:
        targets = Targets(http, url, rasa_url, fake, secret, args.timeout)
        return await phases(args, targets, fake, pids, line_share)


async def measure_app(args: argparse.Namespace, app: Any, rasa_url: str, secret: str, token: str,
                      line_port: int, fake: FakeLineApi | None = None) -> dict[str, float]:
    """``measure`` against a gateway ``app`` served here, on this loop (the pytest's way:
    the session's Rasa, a gateway whose LINE channel points at ``line_port``)."""
    port = free_port()
    async with serving(app, port, lifespan="on") as url:
        return await measure(args, url, rasa_url, secret, token, line_port, [], fake)


def secrets_for_run() -> tuple[str, str]:
    """A channel secret and token made up for this run (the stack is the harness's own)."""
    return uuid.uuid4().hex, uuid.uuid4().hex


class Budget:
    """``--duration-max`` shared by the measured phases in proportion to their messages."""

    def __init__(self, seconds: float, planned: list[int]) -> None:
        self.left_s = seconds
        self.left_messages = sum(planned)

    def share(self, messages: int) -> float:
        return max(1.0, self.left_s * messages / max(1, self.left_messages))

    def spend(self, result: PhaseResult) -> None:
        self.left_s = max(0.0, self.left_s - result.wall_s)
        self.left_messages -= result.planned


async def phases(args: argparse.Namespace, targets: Targets, fake: FakeLineApi, pids: list[int],
                 line_share: float) -> dict[str, float]:
    run_id = uuid.uuid4().hex[:8]
    SENT_TEXTS.clear()
    print("bare Rasa = the same messages posted straight to Rasa's REST channel "
          f"({RASA_CHANNEL}); Rasa still calls the action server, which calls the gateway's "
          "/api/faq/answer for FAQ questions", flush=True)
    warm = residents(args.warmup, line_share, seed=args.seed + 1, run=f"{run_id}w")
    await run_phase("warm-up", targets.end_to_end, warm, 4, 60, pids)
    await run_phase("warm-up", targets.bare, warm, 4, 60, pids)
    bare_volume = min(args.bare_messages, args.messages)
    budget = Budget(args.duration_max, [2 * args.sustained_messages, args.messages, bare_volume])
    profile = _profiler(getattr(args, "harness_profile", ""))
    # "errors": end-to-end messages not answered (the exit status); bare Rasa's apart.
    figures: dict[str, float] = {"errors": 0, "bare_errors": 0}

    async def phase(name: str, send: Send, people: list[Resident], concurrency: int
                    ) -> PhaseResult:
        planned = sum(len(p.questions) for p in people)
        result = await run_phase(name, send, people, concurrency, budget.share(planned), pids)
        budget.spend(result)
        await drain(targets, warm[0], name)
        return result

    if args.sustained_messages > 0:
        people = residents(args.sustained_messages, line_share, seed=args.seed, run=f"{run_id}s")
        e2e = await phase("sustained", targets.end_to_end, people, args.sustained_concurrency)
        bare = await phase("sustained (bare Rasa)", targets.bare, people,
                           args.sustained_concurrency)
        ratios = report_phase(e2e, bare)
        p95 = percentile(e2e.latencies(), 95)
        verdict("≥ 50 msg/s with p95 ≤ 150 ms at 16 concurrent",
                e2e.throughput >= 50 and p95 <= 150 and args.sustained_concurrency >= 16,
                f"{e2e.throughput:.1f} msg/s, p95 {p95:.0f} ms at {e2e.concurrency}")
        ratio_verdict(ratios, e2e, bare)
        figures |= {"sustained_msg_s": e2e.throughput, "sustained_p95_ms": p95,
                    "errors": figures["errors"] + e2e.errors,
                    "bare_errors": figures["bare_errors"] + bare.errors}
        print(flush=True)
    if args.rates:
        figures |= await paced_phases(args, targets, warm[0], pids, line_share, run_id)
        print(flush=True)
    if args.messages > 0:
        people = residents(args.messages, line_share, seed=args.seed + 2, run=f"{run_id}v")
        e2e = await phase("volume", targets.end_to_end, people, args.concurrency)
        bare = None
        if bare_volume > 0:
            bare = await phase("volume (bare Rasa)", targets.bare,
                               _first_messages(people, bare_volume), args.concurrency)
        ratios = report_phase(e2e, bare)
        verdict(f"{args.messages} messages at {args.concurrency} concurrent with 0 errors",
                e2e.errors == 0 and len(e2e.outcomes) == e2e.planned,
                f"{len(e2e.outcomes)} sent, {e2e.errors} errors")
        ratio_verdict(ratios, e2e, bare)
        figures |= {"volume_msg_s": e2e.throughput, "volume_sent": len(e2e.outcomes),
                    "errors": figures["errors"] + e2e.errors,
                    "bare_errors": figures["bare_errors"] + (bare.errors if bare else 0)}
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.harness_profile)
        print(f"harness profile (CPU time, measured phases): {args.harness_profile}")
    if fake.problems:
        print(f"fake LINE API saw {len(fake.problems)} problem(s), e.g. {fake.problems[:3]}")
    print(f"fake LINE API calls: {dict(sorted(fake.counts.items()))}")
    figures["line_problems"] = len(fake.problems)
    return figures


def _profiler(path: str) -> cProfile.Profile | None:
    """A running CPU-time profiler of this thread when ``path`` is set (the harness is one
    thread: its event loop, the HTTP client and the fake LINE API all run on it)."""
    if not path:
        return None
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    return profile


async def paced_phases(args: argparse.Namespace, targets: Targets, warm: Resident,
                       pids: list[int], line_share: float, run_id: str) -> dict[str, float]:
    """End to end at each offered rate of ``--rates`` (open loop, at most
    ``--sustained-concurrency`` in flight) for ``--rate-seconds`` each: the latency a resident
    sees when messages arrive at that rate, not as fast as the stack answers."""
    best = 0.0
    print(f"phase paced: messages sent at a fixed rate, at most {args.sustained_concurrency} "
          f"in flight, {args.rate_seconds:.0f} s per rate, end to end", flush=True)
    for i, rate in enumerate(args.rates):
        people = residents(max(1, round(rate * args.rate_seconds)), line_share,
                           seed=args.seed + 10 + i, run=f"{run_id}r{i}")
        result = await run_phase(f"paced {rate:g}/s", targets.end_to_end, people,
                                 args.sustained_concurrency, args.rate_seconds * 3, pids,
                                 rate=rate)
        await drain(targets, warm, result.name)
        ms = result.latencies()
        p95 = percentile(ms, 95)
        held = result.late <= 0.01 * max(1, len(result.outcomes))
        if held and result.errors == 0 and p95 <= 150:
            best = max(best, rate)
        print(summary_line(f"offered {rate:g} msg/s", result)
              + f"  late {result.late}" + ("" if held else " (rate not held)"), flush=True)
        print(cpu_line(result), flush=True)
        if rate >= 50:
            verdict(f"≥ 50 msg/s with p95 ≤ 150 ms (paced, at most {args.sustained_concurrency} "
                    "in flight)", held and result.errors == 0 and p95 <= 150,
                    f"{rate:g} msg/s offered, {result.throughput:.1f} answered a second, "
                    f"p95 {p95:.0f} ms, {result.late} late")
    print(f"  highest offered rate with p95 ≤ 150 ms, 0 errors and the rate held: "
          f"{best:g} msg/s" if best else
          "  no offered rate had p95 ≤ 150 ms with 0 errors and the rate held", flush=True)
    return {"paced_best_msg_s": best}


async def drain(targets: Targets, resident: Resident, after: str) -> None:
    """Wait until Rasa has worked through what a phase left queued (requests whose client
    gave up are still processed): one more message to each Rasa process, answered only
    after them."""
    t0 = time.perf_counter()
    run = f"{resident.run}-drain-{uuid.uuid4().hex[:6]}"
    n = len(targets.rasa)
    probes: dict[int, Resident] = {}
    for i in range(1000 * n):
        probe = Resident(i, "rest", resident.lang, resident.questions[:1], run)
        probes.setdefault(shard(f"bare-{probe.sender}", n), probe)
        if len(probes) == n:
            break
    saved, targets.timeout_s = targets.timeout_s, max(targets.timeout_s, 300.0)
    try:
        await asyncio.gather(*(targets.bare(p, p.questions[0]) for p in probes.values()))
    finally:
        targets.timeout_s = saved
    waited = time.perf_counter() - t0
    if waited > 2:
        print(f"  (after {after}: Rasa busy with queued requests for another {waited:.0f} s)",
              flush=True)


def ratio_verdict(ratios: dict[str, float], e2e: PhaseResult, bare: PhaseResult | None) -> None:
    if not ratios or bare is None:
        return
    degraded = sum(1 for o in e2e.outcomes if o.detail == "degraded")
    detail = (f"mean latency {ratios['mean']:.2f}×, 1/throughput {ratios['1/throughput']:.2f}×"
              + (f", CPU/message {ratios['CPU/message']:.2f}×" if "CPU/message" in ratios else ""))
    if degraded or bare.errors:
        # Timed-out bare messages and retrieval-only answers make either side look cheaper
        # than it is: no verdict from such a run.
        print(f"  target end-to-end ≤ 1.5× bare Rasa: NOT MEASURABLE in this run ({detail}; "
              f"{degraded} end-to-end answers from the degraded path, {bare.errors} bare Rasa "
              "errors: Rasa was overloaded)")
        return
    verdict("end-to-end ≤ 1.5× bare Rasa", ratios["mean"] <= 1.5, detail)


def _first_messages(people: list[Resident], n: int) -> list[Resident]:
    out, left = [], n
    for person in people:
        if left <= 0:
            break
        out.append(Resident(person.index, person.channel, person.lang,
                            person.questions[:left], person.run))
        left -= len(out[-1].questions)
    return out


if __name__ == "__main__":
    sys.exit(main())
