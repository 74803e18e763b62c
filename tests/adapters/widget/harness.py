"""Helpers shared by the widget's browser tests and their fixtures."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, free_port

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Gateway:
    url: str
    port: int
    # A page on another origin that embeds the widget from the gateway.
    site_url: str = ""
    site_port: int = 0


def start_site(gateway_url: str) -> tuple[ThreadingHTTPServer, int]:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another site</title>'
        "</head><body><h1>A page on another origin</h1>"
        f'<script src="{gateway_url}/widget.js" data-lang="en" data-title="City help desk">'
        "</script></body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


@dataclass
class PageWatch:
    """What a page did that a test should fail on: dialogs (alert = executed script),
    console errors (CSP violations are reported there) and requests made."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_context(browser: Any, **options: Any) -> tuple[Any, Any, PageWatch]:
    context = browser.new_context(locale="en-US", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = PageWatch()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
    page.on("pageerror", lambda e: watch.console_errors.append(f"page error: {e}"))
    page.on("request", lambda r: watch.requests.append(f"{r.method} {r.url}"))
    return context, page, watch
