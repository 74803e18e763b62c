"""A real gateway (Rasa down: retrieval answers) on a loopback port, a second small site
on another port to embed the widget cross-origin, and a real headless Chromium (Debian's
``/usr/bin/chromium`` driven by Playwright; ``playwright install`` is never needed)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.adapters.widget.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Gateway,
    PageWatch,
    open_context,
    start_site,
)
from tests.conftest import free_port, serve_in_thread


@pytest.fixture(scope="session")
def widget_gateway(settings, retriever) -> Iterator[Gateway]:  # type: ignore[no-untyped-def]
    """The gateway with Rasa down, allowing one other origin (the test site) by CORS."""
    from adapters.gateway import create_app

    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    site, site_port = start_site(url)
    s.gateway.cors_origins = [f"http://127.0.0.1:{site_port}"]
    try:
        with serve_in_thread(create_app(s, retriever=retriever), port):
            yield Gateway(url=url, port=port, site_url=f"http://127.0.0.1:{site_port}/",
                          site_port=site_port)
    finally:
        site.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, launched once per session."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: run `make test` (its browser "
                    "step installs it) or `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def ctx(browser) -> Iterator[tuple[Any, Any, PageWatch]]:  # type: ignore[no-untyped-def]
    """A fresh browser context (empty sessionStorage), a page in it, and its watch."""
    context, page, watch = open_context(browser, viewport={"width": 1280, "height": 860})
    try:
        yield context, page, watch
    finally:
        context.close()
    assert watch.dialogs == [], f"a script ran in the page: {watch.dialogs}"
    csp = [e for e in watch.console_errors if "Content Security Policy" in e]
    assert csp == [], f"CSP violations: {csp}"
