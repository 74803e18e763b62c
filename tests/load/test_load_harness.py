"""The load harness (``bench.load``) on a small run against the session's real Rasa: every
REST and LINE message answered, none lost, and every body the gateway sent to the (fake)
LINE API valid against LINE's OpenAPI. No timing is asserted: the figures are the
benchmark's (``python -m bench.load``)."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from adapters.gateway import create_app
from bench.load.fake_line import FakeLineApi
from bench.load.harness import free_port, measure_app, parse_args
from tests.adapters.line.line_openapi import limit_errors, messaging_api

pytestmark = pytest.mark.slow
SECRET = "load-test-channel-secret"
TOKEN = "load-test-channel-token"


def test_small_load_run_answers_every_message(stack, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    line_port = free_port()
    settings = copy.deepcopy(stack.settings)
    settings.storage.data_dir = tmp_path
    settings.line.channel_secret = SecretStr(SECRET)
    settings.line.channel_access_token = SecretStr(TOKEN)
    settings.line.api_base_url = settings.line.data_api_base_url = f"http://127.0.0.1:{line_port}"
    app = create_app(settings, retriever=stack.retriever)
    args = parse_args(["--messages", "200", "--concurrency", "8", "--sustained-messages", "0",
                       "--bare-messages", "24", "--warmup", "4", "--duration-max", "600",
                       "--timeout", "60", "--rates", "4", "--rate-seconds", "5"])
    fake = FakeLineApi(token=TOKEN, keep_bodies=True)

    # A thread of its own: an earlier test in the session may leave an event loop set as
    # running in the main thread, where asyncio.run() refuses to start.
    with ThreadPoolExecutor(1) as pool:
        figures = pool.submit(asyncio.run, measure_app(args, app, stack.settings.rasa.url,
                                                       SECRET, TOKEN, line_port, fake)).result()

    report = capsys.readouterr().out
    assert figures["volume_sent"] == 200, report
    # The paced phase sent its 20 messages at 4 a second (5 s, not as fast as answered).
    paced = next(line for line in report.splitlines() if "offered 4 msg/s" in line)
    assert "n=   20 errors=0" in paced and "late 0" in paced, report
    assert 3.0 <= float(paced.split("errors=0")[1].split("msg/s")[0]) <= 4.4, paced
    assert figures["errors"] == 0, report
    assert not fake.problems, fake.problems
    # Both channels carried traffic: LINE answers came back by reply, through the fake API.
    assert "REST /api/chat" in report and fake.counts.get("reply", 0) >= 50, report
    api = messaging_api()
    invalid = [f"{path}: {e}" for path, body in fake.bodies
               for e in api.request_errors("POST", path, body) + limit_errors(body)]
    assert not invalid, invalid[:5]
    assert Counter(path for path, _ in fake.bodies)["/v2/bot/message/reply"] == fake.counts["reply"]


def test_a_phase_counts_the_texts_sent_before_in_the_run() -> None:
    """The query cache answers a text seen before without an embedding, so each phase says
    what share of its messages repeated an earlier text of the run (a phase's CPU per
    message depends on it)."""
    from bench.load.harness import SENT_TEXTS, Outcome, cpu_line, run_phase
    from bench.load.messages import Query, Resident

    async def send(person: Resident, query: Query) -> Outcome:
        return Outcome(True, 1.0, person.channel)

    def people(*texts: str) -> list[Resident]:
        return [Resident(i, "rest", "ja", [Query(t, "ja")]) for i, t in enumerate(texts)]

    async def two_phases() -> tuple[int, int, str]:
        SENT_TEXTS.clear()
        first = await run_phase("a", send, people("ゴミ", "ゴミ", "住民票"), 1, 60, [])
        second = await run_phase("b", send, people("住民票", "転入", "転入", "ゴミ"), 2, 60, [])
        return first.repeated, second.repeated, cpu_line(second)

    with ThreadPoolExecutor(1) as pool:  # asyncio.run() in a thread of its own (see above)
        first, second, line = pool.submit(asyncio.run, two_phases()).result()
    assert (first, second) == (1, 3)
    assert line.endswith("texts sent before in this run: 75 %")
