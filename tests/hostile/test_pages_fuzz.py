"""Routes outside the OpenAPI (issue 8): the widget's files and demo page, the clerk pages and
both static folders get at least 500 generated requests each → no 5xx, and no path under a
static folder ever serves a file from outside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st

from tests.hostile.fuzzing import Tally, envelope, generate

PAGES = ["/widget.js", "/widget.css", "/demo", "/clerk/login", "/clerk/", "/clerk/minutes/1"]
ROOT = Path(__file__).resolve().parents[2]
STATIC = {"/widget/": ROOT / "adapters/static/widget", "/static/clerk/": ROOT / "adapters/clerk/static"}
_SEGMENT = st.one_of(
    st.sampled_from([
        "..", ".", "%2e%2e", "%2E%2E%2F", "..%2f", "%00", "..%00", "%c0%ae%c0%ae", "....//",
        "..\\", "%5c..%5c", "etc", "passwd", "widget.js", "clerk.css", "demo.html", "~root",
        "\u2024\u2024", "%ef%bc%8e%ef%bc%8e", "%E2%80%AE", "", "//", "README.md",
    ]),
    st.text(alphabet="abc.%/\\0123456789", max_size=8),
)
PATHS = st.lists(_SEGMENT, min_size=1, max_size=6).map("/".join)


@pytest.mark.parametrize("page", PAGES)
def test_pages_survive_hostile_requests(gateway: TestClient, page: str, clerk_headers: Any) -> None:
    tally = Tally(f"GET {page}")

    def hostile(e: dict[str, Any]) -> None:
        method = "GET" if len(e["content"] or b"") % 3 != 1 else e["method"]
        auth = clerk_headers if page.startswith("/clerk/") and len(e["params"]) % 2 else {}
        tally.send(gateway, method, page, params=e["params"], headers={**e["headers"], **auth},
                   content=e["content"])

    generate(envelope(), 505, hostile)
    tally.check()


@pytest.mark.parametrize("folder", sorted(STATIC))
def test_static_folders_never_serve_outside_themselves(gateway: TestClient, folder: str) -> None:
    tally = Tally(f"GET {folder}…")
    inside = {p.read_bytes() for p in STATIC[folder].rglob("*") if p.is_file()}

    def probe(case: tuple[str, dict[str, Any]]) -> None:
        path, e = case
        headers = {k: v for k, v in e["headers"].items() if k.lower() != "range"}
        r = tally.send(gateway, "GET", folder + path, headers=headers)
        if r is not None and r.status_code == 200:
            assert r.content in inside, f"{folder + path} served something not in {folder}"

    generate(st.tuples(PATHS, envelope(method="GET")), 505, probe)
    tally.check()
