"""At least 500 generated requests per operation of the gateway's OpenAPI → no 5xx.

Each operation gets schemathesis' positive cases (valid by the schema; on the clerk routes
also with the ids of a real upload, job and minutes version, so the requests reach past the
404), its negative cases (schema violations), and hostile envelopes (any method, junk query
parameters, headers and bodies) until 500 requests were sent. The clerk API is called as a
logged-in admin with a valid CSRF token; everything else anonymously, as a resident would.
The gateway runs in degraded mode (Rasa on a closed port), which is what a 5xx hunt needs:
every chat turn goes through retrieval in this process.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode

from adapters.gateway import create_app
from adapters.settings import Settings
from tests.hostile.fuzzing import Tally, envelope, generate

SPEC = create_app(Settings(_env_file=None)).openapi()
OPERATIONS = [(m.upper(), p) for p, ops in SPEC["paths"].items() for m in ops]
# Streams that last until the client goes away: only anonymous (401) requests are generated
# for it; a job's own stream ends with the job and is called with finished jobs only.
ENDLESS = {("GET", "/api/clerk/events")}
JOB_STREAM = ("GET", "/api/clerk/jobs/{job_id}/events")
BASE = "http://testserver"
POSITIVE, WITH_REAL_IDS, NEGATIVE = 60, 40, 60

@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_dict(SPEC)


def _httpx_kwargs(case: Any, auth: dict[str, str]) -> dict[str, Any]:
    """schemathesis' requests-style call → TestClient (httpx) keyword arguments."""
    kw = case.as_transport_kwargs(base_url=BASE)
    out: dict[str, Any] = {"method": kw["method"], "url": kw["url"], "params": kw.get("params"),
                           "headers": {**(kw.get("headers") or {}), **auth}}
    if "json" in kw:
        out["json"] = kw["json"]
    elif isinstance(kw.get("data"), (bytes, str)):
        out["content"] = kw["data"]
    elif kw.get("data") is not None:
        out["data"] = kw["data"]
    return out


def op_strategy(schema: Any, method: str, path: str, real: dict[str, Any]) -> Any:
    """Positive cases of one operation, with the real ids where it takes them."""
    return schema[path][method].as_strategy(GenerationMode.POSITIVE, path_parameters=real or None)


def _finish_open_jobs(gateway: TestClient) -> None:
    """Jobs queued by earlier generated requests never run here (no worker): cancel them, so
    their event streams end as a finished job's does."""
    store = gateway.app.state.clerk_store  # type: ignore[attr-defined]
    for job in store.jobs():
        if job.status in ("queued", "running"):
            store.transition(job.id, ("queued", "running"), "cancelled")


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_never_get_a_5xx(  # type: ignore[no-untyped-def]
    method: str, path: str, schema, gateway: TestClient, clerk_headers, known
) -> None:
    op = schema[path][method]
    endless = (method, path) in ENDLESS
    auth = clerk_headers if path.startswith("/api/clerk/") and not endless else {}
    tally = Tally(f"{method} {path}")

    def call(case: Any) -> None:
        tally.send(gateway, **_httpx_kwargs(case, auth))

    names = re.findall(r"{(\w+)}", path)
    real = {n: known[n] for n in names if n in known}
    if (method, path) == JOB_STREAM:
        _finish_open_jobs(gateway)
        generate(op.as_strategy(GenerationMode.POSITIVE, path_parameters=real), POSITIVE, call)
    elif not endless:
        generate(op.as_strategy(GenerationMode.POSITIVE), POSITIVE, call)
        if real:
            generate(op.as_strategy(GenerationMode.POSITIVE, path_parameters=real), WITH_REAL_IDS, call)
        generate(op.as_strategy(GenerationMode.NEGATIVE), NEGATIVE, call)
    url = re.sub(r"{(\w+)}", lambda m: str(real.get(m.group(1), 1)), path)
    for _ in range(5):
        if tally.sent >= 500:
            break

        def hostile(e: dict[str, Any]) -> None:
            # Mostly the declared method, so the route itself is reached.
            m = e["method"] if len(e["content"] or b"") % 3 == 1 else method
            tally.send(gateway, m, url, params=e["params"], headers={**e["headers"], **auth},
                       content=e["content"])

        generate(envelope(), 505 - tally.sent, hostile)
    tally.check()


JSON_BODIES = [(m, p) for m, p in OPERATIONS
               if "application/json" in SPEC["paths"][p][m.lower()].get("requestBody", {}).get(
                   "content", {})]


def _poisoned(value: Any) -> Any:
    """``value`` with a lone surrogate appended to every string in it."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, list):
        return [_poisoned(v) for v in value]
    if isinstance(value, dict):
        return {k: _poisoned(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path"), JSON_BODIES, ids=[f"{m} {p}" for m, p in JSON_BODIES])
def test_lone_surrogates_in_json_strings_never_get_a_5xx(  # type: ignore[no-untyped-def]
    method: str, path: str, schema, gateway: TestClient, clerk_headers, known
) -> None:
    """JSON may escape half a UTF-16 pair ("\\ud800"); Python then holds a string that cannot
    be encoded, which broke the language detector (500 on /api/chat and /api/faq/answer)."""
    auth = clerk_headers if path.startswith("/api/clerk/") else {}
    real = {n: known[n] for n in re.findall(r"{(\w+)}", path) if n in known}
    tally = Tally(f"{method} {path} (lone surrogates)")

    def call(case: Any) -> None:
        kw = _httpx_kwargs(case, auth)
        if "json" not in kw:
            return
        body = json.dumps(_poisoned(kw.pop("json")), ensure_ascii=True).encode()
        kw["headers"] = {**kw["headers"], "content-type": "application/json"}
        tally.send(gateway, **kw, content=body)

    generate(op_strategy(schema, method, path, real), 25, call)
    tally.check(minimum=10)
