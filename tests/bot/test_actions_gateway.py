"""``bot/actions/gateway.py`` in the Rasa environment: the action server's calls to the
gateway answer as they did with a session per call (JSON replies, None for an error status or
an unreachable gateway, no cookies sent back), over one kept connection instead of one each."""

from __future__ import annotations

from tests.bot.test_rasa_speedups import run_in_rasa_env

# The action client against a loopback aiohttp "gateway", a session per call, then kept.
_GATEWAY = """
import asyncio, json, socket
from aiohttp import web
import aiohttp
import actions.gateway as gateway

gateway.TIMEOUT = aiohttp.ClientTimeout(total=0.5)

seen = {"connections": set(), "cookies": 0}

async def answer(request):
    seen["connections"].add(id(request.transport))
    seen["cookies"] += "Cookie" in request.headers
    if request.path == "/api/broken":
        return web.json_response({"detail": "no"}, status=500)
    if request.path == "/api/slow":
        await asyncio.sleep(2)
    body = await request.json() if request.method == "POST" else dict(request.query)
    response = web.json_response({"path": request.path, "method": request.method, "echo": body})
    response.set_cookie("session", "resident-1")
    return response

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

async def calls():
    out = [await gateway.post("/api/faq/answer", {"query": "粗大ごみ", "lang": "ja"}),
           await gateway.get("/api/garbage/schedule", {"district": "kita"}),
           await gateway.post("/api/broken", {"x": 1}),
           await gateway.post("/api/kb/entry", {"entry_id": "e-1", "lang": "en"}),
           await gateway.post("/api/slow", {"x": 1})]  # past the timeout: None
    gateway.GATEWAY_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out.append(await gateway.post("/api/faq/answer", {"query": "x", "lang": "ja"}))
    connections, cookies = len(seen["connections"]), seen["cookies"]
    seen["connections"].clear(); seen["cookies"] = 0
    return {"results": out, "connections": connections, "cookies": cookies}

async def main():
    app = web.Application()
    for path in ("/api/faq/answer", "/api/kb/entry", "/api/broken", "/api/slow"):
        app.router.add_post(path, answer)
    app.router.add_get("/api/garbage/schedule", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    out = {}
    for keep in (False, True):
        gateway.KEEP_SESSION, gateway.GATEWAY_URL = keep, url
        out["kept" if keep else "per_call"] = await calls()
    await runner.cleanup()
    return out

print(json.dumps({"default_keeps": gateway.KEEP_SESSION, **asyncio.run(main())}))
"""


def test_gateway_calls_answer_as_before_over_one_kept_connection(settings) -> None:  # type: ignore[no-untyped-def]
    got = run_in_rasa_env(settings, _GATEWAY, env={"MADOGUCHI_RASA_SPEEDUPS_SKIP": ""})
    per_call, kept = got["per_call"], got["kept"]
    assert got["default_keeps"]
    assert kept["results"] == per_call["results"]
    assert per_call["results"][0] == {"path": "/api/faq/answer", "method": "POST",
                                      "echo": {"query": "粗大ごみ", "lang": "ja"}}
    assert per_call["results"][1]["echo"] == {"district": "kita"}
    assert per_call["results"][2] is None and per_call["results"][4:] == [None, None]
    # Five calls that reached it: five connections with a session each, one kept.
    assert per_call["connections"] == 5 and kept["connections"] == 1
    assert per_call["cookies"] == 0 and kept["cookies"] == 0


def test_gateway_session_switch_makes_a_session_per_call_again(settings) -> None:  # type: ignore[no-untyped-def]
    script = "import json, actions.gateway as g; print(json.dumps({'keep': g.KEEP_SESSION}))"
    got = run_in_rasa_env(settings, script,
                          env={"MADOGUCHI_RASA_SPEEDUPS_SKIP": "past_states, gateway_session"})
    assert got == {"keep": False}


# bot/kept_sessions.py serves both processes (D1): the Rasa server's session to the action
# server and the action server's session to the gateway come from the one module, each kept
# under its own key, and both are closed at exit without the loop (no "Unclosed" warning).
_SHARED = """
import asyncio, gc, json, warnings
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig
import kept_sessions, rasa_speedups
import actions.gateway as gateway

async def answer(request):
    return web.json_response({"events": [], "path": request.path})

async def main():
    app = web.Application()
    app.router.add_post("/webhook", answer)
    app.router.add_post("/api/faq/answer", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    rasa_speedups.install()
    gateway.GATEWAY_URL = url
    endpoint = EndpointConfig(f"{url}/webhook")
    out = []
    for _ in range(2):
        out.append(await endpoint.request(json={"next_action": "a"}, method="post"))
        out.append(await gateway.post("/api/faq/answer", {"query": "q"}))
    sessions = list(kept_sessions._sessions.values())
    await runner.cleanup()
    return out, sessions

out, sessions = asyncio.run(main())
count = len({id(s) for s in sessions})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    kept_sessions.drop_sessions()
    del sessions
    gc.collect()
print(json.dumps({
    "same_code": [rasa_speedups.kept_session is kept_sessions.kept_session,
                  gateway.kept_session is kept_sessions.kept_session,
                  rasa_speedups.skipped is kept_sessions.skipped],
    "results": out, "sessions": count, "kept": len(kept_sessions._sessions),
    "warnings": [str(w.message) for w in caught]}))
"""


def test_rasa_and_action_server_sessions_come_from_one_module(settings) -> None:  # type: ignore[no-untyped-def]
    got = run_in_rasa_env(settings, _SHARED, env={"MADOGUCHI_RASA_SPEEDUPS_SKIP": ""})
    assert got["same_code"] == [True, True, True]
    assert got["results"] == [{"events": [], "path": "/webhook"},
                              {"events": [], "path": "/api/faq/answer"}] * 2
    assert got["sessions"] == 2  # one per caller, each reused for its second call
    assert got["kept"] == 0 and got["warnings"] == []
