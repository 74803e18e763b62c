"""The widget's routes over HTTP: assets, the demo page's CSP, the event stream, CORS."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from adapters.gateway import create_app
from adapters.settings import GatewaySettings
from tests.conftest import free_port

CITY = "https://www.city.kasumino.example.jp"


def _client(settings: Any, retriever: Any, origins: list[str]) -> Iterator[TestClient]:
    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    s.gateway.cors_origins = origins
    with TestClient(create_app(s, retriever=retriever)) as c:
        yield c


@pytest.fixture(scope="module")
def client(settings, retriever) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    yield from _client(settings, retriever, [])


@pytest.fixture(scope="module")
def city_client(settings, retriever) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    yield from _client(settings, retriever, [CITY])


def events(body: str) -> list[tuple[str, Any]]:
    out = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/widget.js", "text/javascript"), ("/widget.css", "text/css"),
     ("/widget/widget.js", "text/javascript"), ("/demo", "text/html")],
)
def test_assets_are_served(client: TestClient, path: str, media_type: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


def test_widget_calls_nothing_but_its_gateway(client: TestClient) -> None:
    source = client.get("/widget.js").text + client.get("/widget.css").text
    for outside in ("http://", "https://", "//fonts.", "@import", "cdn"):
        hits = [line for line in source.splitlines() if outside in line
                and "www.w3.org/2000/svg" not in line and "GATEWAY/widget.js" not in line]
        assert hits == [], f"{outside!r} in the widget: {hits}"
    assert "innerHTML" not in client.get("/widget.js").text


def test_demo_page_has_a_strict_csp(client: TestClient) -> None:
    csp = client.get("/demo").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_static_files_do_not_escape_their_folder(client: TestClient) -> None:
    assert client.get("/widget/../widget.py").status_code == 404
    assert client.get("/widget/%2e%2e/widget.py").status_code == 404


def test_stream_sends_typing_then_messages_then_done(client: TestClient) -> None:
    with client.stream(
        "POST", "/api/chat/stream",
        json={"sender": "w1", "message": "保育園の申し込みはいつまでですか"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        got = events(response.read().decode())
    names = [name for name, _ in got]
    assert names[0] == "typing" and names[-1] == "done"
    assert set(names[1:-1]) == {"message"}
    messages = [data for name, data in got if name == "message"]
    # The same messages as the REST endpoint returns.
    rest = client.post(
        "/api/chat", json={"sender": "w1", "message": "保育園の申し込みはいつまでですか"}
    ).json()
    assert messages == rest
    assert "12月10日" in messages[0]["text"]
    assert got[-1][1] == {"mode": "degraded", "lang": "ja"}


def test_stream_honours_the_chosen_language(client: TestClient) -> None:
    with client.stream(
        "POST", "/api/chat/stream",
        json={"sender": "w2", "message": "保育園の申し込みはいつまでですか",
              "metadata": {"lang": "ko"}},
    ) as response:
        got = events(response.read().decode())
    custom = [d for n, d in got if n == "message" and "custom" in d][0]["custom"]
    assert custom["lang"] == "ko" and "12월 10일" in custom["answer"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [({"sender": "u", "message": " "}, 422, "empty"),
     ({"sender": "u", "message": "あ" * 3000}, 422, "too long"),
     ({"sender": "u", "message": "a" * 100_000}, 413, "larger than")],
)
def test_stream_refuses_bad_input_before_streaming(
    client: TestClient, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = client.post("/api/chat/stream", json=body)
    assert response.status_code == status
    assert fragment in response.json()["detail"]


def test_no_cors_by_default(client: TestClient) -> None:
    response = client.post(
        "/api/chat", json={"sender": "c", "message": "保育園"}, headers={"Origin": CITY}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_listed_origins_only(city_client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    allowed = city_client.options("/api/chat/stream", headers={"Origin": CITY, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == CITY
    refused = city_client.options(
        "/api/chat/stream", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers
    chat = city_client.post(
        "/api/chat", json={"sender": "c", "message": "保育園"}, headers={"Origin": CITY}
    )
    assert chat.headers["access-control-allow-origin"] == CITY
    assert "X-Madoguchi-Mode" in chat.headers["access-control-expose-headers"]


@pytest.mark.parametrize("origin", [f"{CITY}/", f"{CITY}/page", "www.city.example.jp", ""])
def test_cors_setting_refuses_what_is_not_an_origin(origin: str) -> None:
    with pytest.raises(ValidationError, match="not an origin"):
        GatewaySettings(cors_origins=[origin])


def test_cors_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.settings import Settings

    origins = [CITY, "http://localhost:8080"]
    monkeypatch.setenv("MADOGUCHI_GATEWAY__CORS_ORIGINS", json.dumps(origins))
    assert Settings(_env_file=None).gateway.cors_origins == origins
