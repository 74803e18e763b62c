"""Security headers, cookies and secrets of the real gateway (TestClient, no Rasa needed).

The pages are the real ones: the widget demo and the three clerk pages (two need a login),
parsed to prove they hold no inline script, no event-handler attributes, no inline style and
no ``javascript:`` URL — which is what lets their CSP forbid them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.security import InsecureSettingsError, check_secrets, env_name, secrets_of

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "privacy-test-password-1"
GOOD = "q8Jm2vX0rT5nL7wZ4cY1bE9hK3sP6dA0"


class _Inline(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, on* handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=…> inline style")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "script":
            self.scripts += 1
            self._in_script = True
            if not names.get("src"):
                self.problems.append("<script> without src (inline script)")
        if tag == "style":
            self.problems.append("<style> element (inline style)")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body: {data.strip()[:60]!r}")


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.fixture
def client(gateway_settings, gateway) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(gateway(gateway_settings)) as c:
        yield c


def _login(client: TestClient, name: str = "privacy-admin") -> Any:
    client.app.state.clerk_store.add_user(name, PASSWORD, "admin")  # type: ignore[attr-defined]
    response = client.post("/api/clerk/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("path", ["/demo", "/clerk/login", "/clerk/", "/clerk/minutes/1"])
def test_pages_have_a_strict_csp_and_no_inline_script(client: TestClient, path: str) -> None:
    if path != "/clerk/login" and path != "/demo":
        _login(client)
    page = client.get(path, follow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = _directives(page.headers["content-security-policy"])
    for directive in ("script-src", "style-src"):
        allowed = csp.get(directive, csp["default-src"])
        assert "'unsafe-inline'" not in allowed and "'unsafe-eval'" not in allowed, csp
        assert not any(s.startswith(("http:", "https:", "*")) for s in allowed), csp
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] in ("no-referrer", "same-origin")
    parser = _Inline()
    parser.feed(page.text)
    assert parser.scripts >= 1, "the page loads its script from a file"
    assert not parser.problems, parser.problems


def test_the_inline_check_catches_inline_script() -> None:
    parser = _Inline()
    parser.feed('<p onclick="x()" style="color:red">a</p><script>alert(1)</script><a href="javascript:x()">')
    assert len(parser.problems) == 5, parser.problems


def test_the_widget_stays_embeddable_from_a_city_site(gateway_settings, gateway) -> None:  # type: ignore[no-untyped-def]
    gateway_settings.gateway.cors_origins = ["https://www.city.example.jp"]
    with TestClient(gateway(gateway_settings)) as client:
        origin = {"Origin": "https://www.city.example.jp"}
        for asset, kind in (("/widget.js", "text/javascript"), ("/widget.css", "text/css")):
            r = client.get(asset, headers=origin)
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
            assert r.headers["cross-origin-resource-policy"] == "cross-origin"
            assert r.headers["x-content-type-options"] == "nosniff"
        chat = client.options("/api/chat/stream", headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        })
        assert chat.headers["access-control-allow-origin"] == "https://www.city.example.jp"
        # The clerk app is not for other sites.
        assert client.get("/static/clerk/login.js").headers["cross-origin-resource-policy"] == "same-origin"


def test_api_responses_carry_the_headers_too(client: TestClient) -> None:
    for response in (
        client.get("/api/health"),
        client.post("/api/chat", json={"message": ""}),  # 422
        client.post("/api/chat", content=b"x" * 200_000, headers={"content-type": "application/json"}),  # 413
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.status_code
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers  # HSTS is off by default


def test_hsts_is_sent_when_configured(gateway_settings, gateway) -> None:  # type: ignore[no-untyped-def]
    gateway_settings.gateway.hsts_max_age_s = 31_536_000
    with TestClient(gateway(gateway_settings)) as client:
        for path in ("/api/health", "/demo", "/widget.js"):
            hsts = client.get(path).headers["strict-transport-security"]
            assert hsts == "max-age=31536000; includeSubDomains"


def _cookie_flags(response: Any) -> dict[str, set[str]]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        out[name] = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
    return out


def test_cookies_are_secure_over_https_and_in_production(gateway_settings, gateway) -> None:  # type: ignore[no-untyped-def]
    with TestClient(gateway(gateway_settings)) as client:
        plain = _cookie_flags(_login(client))
    assert plain["madoguchi_session"] >= {"httponly", "samesite"}
    assert "secure" not in plain["madoguchi_session"]  # dev over http: a local try-out works
    with TestClient(gateway(gateway_settings), base_url="https://testserver") as client:
        over_https = _cookie_flags(_login(client))
    prod = copy.deepcopy(gateway_settings)
    prod.mode = "production"
    prod.clerk.session_secret = SecretStr(GOOD)
    with TestClient(gateway(prod)) as client:
        in_production = _cookie_flags(_login(client))
    for flags in (over_https, in_production):
        assert "secure" in flags["madoguchi_session"] and "secure" in flags["madoguchi_csrf"]
        assert "httponly" in flags["madoguchi_session"]


def _production(settings: Any) -> Any:
    s = copy.deepcopy(settings)
    s.mode = "production"
    for path, _ in secrets_of(s):
        group = getattr(s, path[0])
        setattr(group, path[1], SecretStr(""))
    s.clerk.session_secret = SecretStr(GOOD)
    return s


def test_production_starts_with_real_secrets(gateway_settings, gateway) -> None:  # type: ignore[no-untyped-def]
    s = _production(gateway_settings)
    s.line.channel_secret = SecretStr("0123456789abcdef0123456789abcdef")
    s.line.channel_access_token = SecretStr(GOOD * 4)
    s.rasa.tracker_url = SecretStr("postgresql://madoguchi:" + GOOD + "@db.internal:5432/madoguchi")
    check_secrets(s)
    gateway(s)


def _every_secret(settings: Any) -> list[tuple[str, ...]]:
    return [path for path, _ in secrets_of(settings)]


@pytest.mark.parametrize("bad", ["changeme", "secret", "xxxxxxxxxxxxxxxxxxxxxxxx", "short-1"])
def test_placeholder_secrets_are_refused_in_production_naming_the_setting(gateway_settings, gateway, bad: str) -> None:  # type: ignore[no-untyped-def]
    paths = _every_secret(gateway_settings)
    assert {("line", "channel_secret"), ("line", "channel_access_token"), ("clerk", "session_secret")} <= set(paths)
    for path in paths:
        s = _production(gateway_settings)
        group = getattr(s, path[0])
        url_like = path[-1].endswith("url")
        if url_like and bad == "short-1":
            continue  # a short database password is the operator's call; placeholders are not
        value = f"postgresql://madoguchi:{bad}@db:5432/x" if url_like else bad
        setattr(group, path[1], SecretStr(value))
        if path == ("line", "channel_secret"):
            s.line.channel_access_token = SecretStr(GOOD * 4)
        if path == ("line", "channel_access_token"):
            s.line.channel_secret = SecretStr(GOOD)
        with pytest.raises(InsecureSettingsError, match=env_name(path)):
            gateway(s)
        s.mode = "dev"
        gateway(s)  # dev accepts anything


def test_half_a_line_channel_is_refused(gateway_settings, gateway) -> None:  # type: ignore[no-untyped-def]
    s = _production(gateway_settings)
    s.line.channel_secret = SecretStr(GOOD)
    with pytest.raises(InsecureSettingsError, match="MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN is empty"):
        check_secrets(s)
    s.clerk.session_secret = SecretStr("")
    with pytest.raises(InsecureSettingsError, match="MADOGUCHI_CLERK__SESSION_SECRET is empty"):
        check_secrets(s)


def test_secrets_come_only_from_settings() -> None:
    # No module of the app reads a secret-looking variable from the environment itself.
    reads, secretish = 0, []
    for path in sorted((ROOT / "adapters").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "os.environ" in line or "getenv(" in line:
                reads += 1
                if any(w in line.upper() for w in ("SECRET", "TOKEN", "PASSWORD", "API_KEY")):
                    secretish.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert reads, "the scan found no environment access at all (is it looking at the code?)"
    assert not secretish, secretish


def test_serve_refuses_placeholders_naming_the_setting(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from adapters.cli import app

    monkeypatch.setenv("MADOGUCHI_MODE", "production")
    monkeypatch.setenv("MADOGUCHI_STORAGE__DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MADOGUCHI_CLERK__SESSION_SECRET", GOOD)
    monkeypatch.setenv("MADOGUCHI_LINE__CHANNEL_SECRET", "changeme")
    monkeypatch.setenv("MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN", GOOD * 4)
    result = CliRunner().invoke(app, ["serve", "--no-rasa"])
    assert result.exit_code == 2
    assert "MADOGUCHI_LINE__CHANNEL_SECRET is a placeholder" in result.output


def test_telemetry_export_cannot_be_switched_on_from_the_environment(  # type: ignore[no-untyped-def]
    gateway_settings, gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI's built-in OpenTelemetry would export exception messages and rejected input
    (a resident's text) to an OTLP endpoint named in the environment; madoguchi keeps it off.
    Without the explicit config FastAPI reads these variables at start-up (and, the OTLP
    exporter not being installed, refuses to start)."""
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/")
    app = gateway(gateway_settings)
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert client.post("/api/chat", json={"message": 12}).status_code == 422
    config = app._telemetry  # noqa: SLF001 — FastAPI keeps no public accessor
    assert not any(config[k] for k in ("tracing", "metrics", "logs", "operation_spans", "auto_configure"))
