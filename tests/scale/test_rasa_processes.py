"""Several Rasa processes behind one gateway (``rasa.processes``, ``rasa.urls``), sticky by
sender: the gateway sends each resident to the process a stable hash of the sender id names,
so the embedded SQLite tracker store and Rasa's in-memory lock store stay correct. When that
process is down its residents go to the next one (the conversation goes on from the shared
tracker store) and come back once it is up again.

Which Rasa process did the work is read from the processes themselves (their CPU time in
``/proc``), not only from the gateway's own counters.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from adapters.rasa_client import RasaClient, shard
from adapters.settings import RasaSettings
from tests.conftest import ROOT
from tests.faults.residents import wait_until

CLK_TCK = os.sysconf("SC_CLK_TCK")
GARBAGE = "ゴミ出しの曜日を教えてください"  # starts the garbage-day form: it asks for the district
DISTRICT, GARBAGE_DAYS = "北区です", "燃やせるごみ: 月曜、木曜"
FAQ = "保育園の申し込みはいつまでですか"


# -- the hash and the routing, without servers --------------------------------------------


def test_shard_is_stable_across_interpreters_and_spreads_senders() -> None:
    senders = [f"U{i:032x}" for i in range(2000)] + ["resident-1", "日本語の送信者", "\ud800x"]
    here = [shard(s, 2) for s in senders]
    # Another interpreter with another str-hash salt (what a second gateway replica is).
    code = ("import json,sys; from adapters.rasa_client import shard; "
            "print(json.dumps([shard(s, 2) for s in json.load(sys.stdin)]))")
    other = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(senders), capture_output=True,
        text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert json.loads(other.stdout) == here
    assert 900 < here.count(0) < 1100  # about half each
    assert all(shard(s, 1) == 0 for s in senders[:10])
    assert {shard(s, 3) for s in senders} == {0, 1, 2}


def test_route_falls_over_to_the_next_process_that_is_up() -> None:
    settings = RasaSettings(urls=["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"])
    client = RasaClient(settings, httpx.AsyncClient())
    p0, p1, p2 = client.rasa.processes
    sender = next(f"s{i}" for i in range(100) if shard(f"s{i}", 3) == 1)
    assert client.route(sender) == [] and not client.rasa.up  # nothing probed yet
    for p in (p0, p1, p2):
        p.mark(True, "test")
    assert client.route(sender) == [p1, p2, p0]
    p1.mark(False, "test")
    assert client.route(sender) == [p2, p0]
    p2.mark(False, "test")
    assert client.route(sender) == [p0] and client.rasa.up
    assert client.rasa.as_dict()["status"] == "partial"
    p0.mark(False, "test")
    assert client.route(sender) == [] and not client.rasa.up
    assert client.rasa.as_dict()["status"] == "down"


# -- two real Rasa processes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_rasa(stack_factory, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A private stack with two Rasa processes (one tracker store, in-memory locks)."""
    running = stack_factory(tmp_path_factory.mktemp("two-rasa"), rasa_processes=2)
    yield running
    running.stop()


def senders_on(index: int, count: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    found = (f"shard-{run}-{i}" for i in range(10_000))
    return [s for s in found if shard(s, 2) == index][:count]


def ask(stack, sender: str, message: str) -> str:  # type: ignore[no-untyped-def]
    body = {"sender": sender, "message": message, "metadata": {"lang": "ja"}}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["X-Madoguchi-Mode"] == "rasa", response.json()
    return "\n".join(m.get("text") or "" for m in response.json())


def rasa_health(stack) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return httpx.get(f"{stack.gateway_url}/api/health", timeout=30).json()["components"]["rasa"]


def cpu_s(child) -> float:  # type: ignore[no-untyped-def]
    fields = Path(f"/proc/{child.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def all_up(stack) -> bool:  # type: ignore[no-untyped-def]
    return rasa_health(stack)["status"] == "up"


@pytest.mark.slow
def test_each_sender_stays_on_its_process_and_a_form_goes_on_there(two_rasa) -> None:  # type: ignore[no-untyped-def]
    wait_until(lambda: all_up(two_rasa), "both Rasa processes up")
    health = rasa_health(two_rasa)
    assert [p["url"] for p in health["processes"]] == two_rasa.settings.rasa.urls
    for index in (0, 1):
        other = 1 - index
        before = [p["answered"] for p in rasa_health(two_rasa)["processes"]]
        cpu0 = [cpu_s(c) for c in two_rasa.rasa_children]
        for sender in senders_on(index, 3):
            # A form across turns (its state in the tracker store), then an FAQ question.
            assert "地区" in ask(two_rasa, sender, GARBAGE)
            assert GARBAGE_DAYS in ask(two_rasa, sender, DISTRICT)
            assert ask(two_rasa, sender, FAQ)
        cpu1 = [cpu_s(c) for c in two_rasa.rasa_children]
        after = [p["answered"] for p in rasa_health(two_rasa)["processes"]]
        # The gateway's view: all nine turns to the sender's process, none to the other.
        assert after[index] - before[index] == 9 and after[other] == before[other]
        # The processes' view: the work was done in that one (the other only had probes).
        busy, idle = cpu1[index] - cpu0[index], cpu1[other] - cpu0[other]
        assert busy > 0.05 and idle < busy / 4, (index, busy, idle)


@pytest.mark.slow
def test_killed_process_residents_are_answered_by_the_other_and_come_back(two_rasa) -> None:  # type: ignore[no-untyped-def]
    wait_until(lambda: all_up(two_rasa), "both Rasa processes up")
    resident = senders_on(1, 1)[0]
    neighbour = senders_on(0, 1)[0]
    assert "地区" in ask(two_rasa, resident, GARBAGE)  # in the form, on process 1

    victim = two_rasa.rasa_children[1].process
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(30)
    time.sleep(0.3)  # the kernel closes its sockets; the gateway may not have probed yet
    # Still answered by Rasa (process 0), not degraded, and the form goes on: its state came
    # from the shared tracker store.
    answered0 = rasa_health(two_rasa)["processes"][0]["answered"]
    assert GARBAGE_DAYS in ask(two_rasa, resident, DISTRICT)
    assert ask(two_rasa, neighbour, FAQ)
    health = rasa_health(two_rasa)
    assert health["status"] == "partial" and health["detail"] == "1 of 2 processes up"
    assert [p["status"] for p in health["processes"]] == ["up", "down"]
    assert health["processes"][0]["answered"] == answered0 + 2
    overall = httpx.get(f"{two_rasa.gateway_url}/api/health", timeout=30).json()["status"]
    assert overall == "degraded"  # a process down is worth an alert, though nobody is degraded

    two_rasa.start_rasa_process(1)
    wait_until(lambda: all_up(two_rasa), "the gateway sees process 1 back")
    before = [p["answered"] for p in rasa_health(two_rasa)["processes"]]
    cpu0 = cpu_s(two_rasa.rasa_children[1])
    assert ask(two_rasa, resident, FAQ)
    assert ask(two_rasa, resident, "ありがとう")
    after = [p["answered"] for p in rasa_health(two_rasa)["processes"]]
    assert after[1] - before[1] == 2 and after[0] == before[0]
    assert cpu_s(two_rasa.rasa_children[1]) - cpu0 > 0.02
