"""The web widget in a real headless Chromium, used the way residents use it: on the demo
page (strict CSP), with Rasa down so retrieval answers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.adapters.widget.harness import ARTIFACTS, AXE, Gateway, PageWatch, open_context

pytestmark = pytest.mark.slow

SOURCE = "https://www.city.kasumino.example.jp/"


def open_widget(page: Page, url: str) -> None:
    page.goto(url)
    page.locator(".launcher").click()
    expect(page.locator(".panel")).to_be_visible()
    expect(page.locator("#mw-input")).to_be_focused()


def ask(page: Page, text: str) -> None:
    """Type a question, press Enter, and wait for the whole answer."""
    bots = page.locator(".log .msg.bot").count()
    page.locator("#mw-input").fill(text)
    page.locator("#mw-input").press("Enter")
    settle(page, bots)


def settle(page: Page, bots_before: int) -> None:
    # Generous: the first question in a language may load its language model, and CI
    # machines are shared.
    expect(page.locator(".log")).not_to_have_attribute("aria-busy", "true", timeout=30_000)
    assert page.locator(".log .msg.bot").count() > bots_before, "no answer appeared"


def last_answer(page: Page) -> Any:
    return page.locator(".log .msg.bot:not(.error) .text").last


def test_japanese_question_gets_answer_with_source_card(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, watch = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    ask(page, "保育園の申し込みはいつまでですか")

    expect(page.locator(".log .msg.user").last).to_contain_text("保育園の申し込みはいつまでですか")
    answer = last_answer(page)
    expect(answer).to_contain_text("12月10日")
    # The source and contact are in the card, not repeated as raw lines in the bubble.
    expect(answer).not_to_contain_text("詳しくは")
    card = page.locator(".card").last
    source = card.locator(f'a[href^="{SOURCE}"]')
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", re.compile("noopener"))
    expect(card).to_contain_text("こども家庭課")
    expect(card.locator('a[href^="tel:"]')).to_have_attribute("href", "tel:0299001234")
    # Streamed (typing → messages → done), not the REST fallback.
    assert any(r.endswith("/api/chat/stream") for r in watch.requests)
    assert not any(r.endswith("/api/chat") for r in watch.requests)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-desktop.png"))


def test_english_question_then_a_quick_reply(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    ask(page, "When is the deadline to apply for nursery school?")
    expect(last_answer(page)).to_contain_text("December 10")
    expect(page.locator(".log .msg.bot[lang=en]").first).to_be_visible()

    chip = page.locator('.log .quick[role=group] button').first
    title = chip.inner_text()
    bots = page.locator(".log .msg.bot").count()
    chip.click()
    settle(page, bots)
    expect(page.locator(".log .msg.user").last).to_contain_text(title)
    assert page.locator(".card").count() == 2


def test_starter_questions_are_quick_replies(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    starters = page.locator(".intro .quick button")
    expect(starters).to_have_count(3)
    bots = page.locator(".log .msg.bot").count()
    starters.first.click()
    settle(page, bots)
    expect(last_answer(page)).to_contain_text("December 10")
    expect(page.locator(".intro .quick")).to_have_count(0)


def test_switching_language_changes_ui_and_answers(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, watch = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    expect(page.locator("#mw-input")).to_have_attribute("placeholder", "Type your question")
    page.locator("#mw-lang").select_option("ko")
    expect(page.locator("#mw-input")).to_have_attribute("placeholder", "질문을 입력하세요")
    expect(page.locator(".close")).to_have_attribute("aria-label", "닫기")
    expect(page.locator(".privacy")).to_contain_text("개인정보")
    expect(page.locator(".mw")).to_have_attribute("lang", "ko")

    with page.expect_request("**/api/chat/stream") as req:
        ask(page, "保育園の申し込みはいつまでですか")
    assert json.loads(req.value.post_data or "{}")["metadata"] == {"lang": "ko"}
    expect(last_answer(page)).to_contain_text("12월 10일")
    expect(page.locator(".card").last).to_have_attribute("lang", "ko")

    page.locator("#mw-lang").select_option("ja-easy")
    expect(page.locator("#mw-input")).to_have_attribute("placeholder", "しつもんを かいて ください")
    expect(page.locator(".mw")).to_have_attribute("lang", "ja")


def test_every_language_has_all_ui_strings(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    options = page.locator("#mw-lang option")
    codes = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert codes == [
        "ja", "ja-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "es", "th", "tl"
    ]
    seen = set()
    for code in codes:
        page.locator("#mw-lang").select_option(code)
        strings = (
            page.locator("#mw-input").get_attribute("placeholder"),
            page.locator(".close").get_attribute("aria-label"),
            page.locator(".intro .bubble").inner_text(),
            page.locator(".privacy").inner_text(),
        )
        assert all(strings), f"{code}: a UI string is empty: {strings}"
        seen.add(strings)
    assert len(seen) == len(codes), "two languages share the same UI strings"


def test_history_and_sender_survive_a_reload(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    ask(page, "保育園の申し込みはいつまでですか")
    page.locator("#mw-lang").select_option("en")
    ask(page, "Where is the nearest evacuation shelter?")
    senders = _senders(page)

    page.reload()
    expect(page.locator(".panel")).to_be_visible()  # it was open: it stays open
    expect(page.locator(".log .msg.user")).to_have_count(2)
    expect(page.locator(".log .msg.user").first).to_contain_text("保育園の申し込みはいつまでですか")
    expect(page.locator(".log .msg.bot .text").first).to_contain_text("12月10日")
    expect(page.locator(".card")).to_have_count(2)
    expect(page.locator("#mw-lang")).to_have_value("en")

    with page.expect_request("**/api/chat/stream") as req:
        ask(page, "What day is burnable garbage collected?")
    assert json.loads(req.value.post_data or "{}")["sender"] == senders[0]
    assert len(set(senders)) == 1 and senders[0].startswith("web-")

    # "Start over" forgets the conversation and the sender.
    page.locator(".reset").click()
    expect(page.locator(".log .msg")).to_have_count(0)
    page.reload()
    expect(page.locator(".log .msg")).to_have_count(0)


def _senders(page: Page) -> list[str]:
    stored = page.evaluate(
        "Object.keys(sessionStorage).filter(k => k.startsWith('madoguchi-widget:'))"
        ".map(k => JSON.parse(sessionStorage.getItem(k)).sender)"
    )
    assert stored, "nothing in sessionStorage"
    return list(stored)


def test_script_in_a_question_is_shown_as_text_and_never_runs(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, watch = ctx
    open_widget(page, f"{widget_gateway.url}/demo")
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    ask(page, hostile)
    expect(page.locator(".log .msg.user").last).to_contain_text(hostile)
    page.reload()  # and again when the history is rendered from storage
    expect(page.locator(".log .msg.user").last).to_contain_text(hostile)
    page.wait_for_timeout(300)
    assert page.locator("madoguchi-widget img, madoguchi-widget script").count() == 0
    assert watch.dialogs == []


def test_hostile_answer_from_the_server_is_escaped(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    """Whatever the bot sends (Rasa responses are written by people), the widget shows text
    and links only to http(s) and tel."""
    _, page, watch = ctx
    messages = [
        {"recipient_id": "x", "text": "<img src=x onerror=alert(3)> see javascript:alert(4) "
         "and https://ok.example/a", "buttons": [
             {"title": "<b onmouseover=alert(5)>bold</b>", "payload": "/greet"}]},
        {"recipient_id": "x", "custom": {
            "type": "faq_answer", "kind": "answer", "answer": "<img src=x onerror=alert(6)>",
            "source_url": "javascript:alert(7)", "lang": "en", "answer_lang": "en",
            "contact": {"department": "<script>alert(8)</script>", "phone": "javascript:alert(9)",
                        "hours": "<i>9–5</i>"}}},
        {"recipient_id": "x", "image": "javascript:alert(10)"},
    ]
    body = "event: typing\ndata: {}\n\n" + "".join(
        f"event: message\ndata: {json.dumps(m)}\n\n" for m in messages
    ) + 'event: done\ndata: {"mode": "rasa", "lang": "en"}\n\n'
    page.route(
        "**/api/chat/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    open_widget(page, f"{widget_gateway.url}/demo")
    ask(page, "hello")
    widget = page.locator("madoguchi-widget")
    expect(page.locator(".log")).to_contain_text("<img src=x onerror=alert(3)>")
    expect(page.locator(".card")).to_contain_text("javascript:alert(7)")
    expect(page.locator(".card")).to_contain_text("<script>alert(8)</script>")
    expect(page.locator(".log .chip")).to_have_text("<b onmouseover=alert(5)>bold</b>")
    hrefs = [a.get_attribute("href") for a in widget.locator("a").all()]
    assert hrefs == ["https://ok.example/a"], hrefs
    page.locator(".log .chip").hover()
    page.wait_for_timeout(300)
    assert widget.locator("img, script, b, i").count() == 0
    assert watch.dialogs == []


def test_typing_indicator_while_the_answer_is_coming(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    held: list[Any] = []
    page.route("**/api/chat/stream", lambda route: held.append(route))
    open_widget(page, f"{widget_gateway.url}/demo")
    page.locator("#mw-input").fill("hello")
    page.locator("#mw-input").press("Enter")
    typing = page.locator(".typing[role=status]")
    expect(typing).to_be_visible()
    expect(typing).to_contain_text("Preparing an answer")
    expect(page.locator(".log")).to_have_attribute("aria-busy", "true")
    assert len(held) == 1
    held[0].fulfill(
        status=200, content_type="text/event-stream",
        body='event: typing\ndata: {}\n\nevent: message\ndata: {"text": "Hi there"}\n\n'
             'event: done\ndata: {"mode": "rasa", "lang": "en"}\n\n',
    )
    expect(typing).to_be_hidden()
    expect(last_answer(page)).to_have_text("Hi there")


def test_rasa_button_sends_its_payload_and_shows_its_title(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    sent: list[str] = []

    def bot(route: Any) -> None:
        sent.append(json.loads(route.request.post_data or "{}")["message"])
        message = {"text": "Did that help?",
                   "buttons": [{"title": "Yes, thanks", "payload": "/affirm"}]}
        route.fulfill(
            status=200, content_type="text/event-stream",
            body=f"event: message\ndata: {json.dumps(message)}\n\nevent: done\ndata: {{}}\n\n",
        )

    page.route("**/api/chat/stream", bot)
    open_widget(page, f"{widget_gateway.url}/demo")
    ask(page, "hello")
    bots = page.locator(".log .msg.bot").count()
    page.locator(".log .chip", has_text="Yes, thanks").click()
    settle(page, bots)
    assert sent == ["hello", "/affirm"]
    expect(page.locator(".log .msg.user").last).to_have_text("You: Yes, thanks")


def test_falls_back_to_rest_when_streaming_is_unavailable(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, watch = ctx
    page.route("**/api/chat/stream", lambda route: route.abort())
    open_widget(page, f"{widget_gateway.url}/demo")
    ask(page, "保育園の申し込みはいつまでですか")
    expect(last_answer(page)).to_contain_text("12月10日")
    expect(page.locator(f'.card a[href^="{SOURCE}"]')).to_be_visible()
    assert any(r.endswith("/api/chat") for r in watch.requests)


def test_gateway_down_shows_an_error_in_the_ui_language(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    page.route("**/api/chat**", lambda route: route.abort())
    open_widget(page, f"{widget_gateway.url}/demo")
    page.locator("#mw-lang").select_option("ja")
    page.locator("#mw-input").fill("保育園")
    page.locator("#mw-input").press("Enter")
    expect(page.locator(".log .msg.error")).to_contain_text("接続できませんでした")
    expect(page.locator("#mw-input")).to_be_enabled()


def test_keyboard_only_use(ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway) -> None:
    _, page, _ = ctx
    page.goto(f"{widget_gateway.url}/demo")
    focused = ""
    for _ in range(25):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused == "launcher":
            break
    assert focused == "launcher", "Tab never reached the widget's button"
    outline = page.locator(".launcher").evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "no visible focus on the launcher"
    expect(page.locator(".launcher")).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(page.locator("[role=dialog]")).to_be_visible()
    assert _focused(page) == "mw-input"
    # Enter while an IME is composing (Japanese input) must not send.
    page.keyboard.type("ほいくえん")
    page.locator("#mw-input").evaluate(
        "e => e.dispatchEvent(new KeyboardEvent('keydown', "
        "{key: 'Enter', isComposing: true, bubbles: true, cancelable: true}))"
    )
    expect(page.locator(".log .msg.user")).to_have_count(0)
    # Tab moves through the dialog's controls.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert _focused(page) != "mw-input"

    page.keyboard.press("Escape")
    expect(page.locator("[role=dialog]")).to_be_hidden()
    assert _focused(page) == "launcher"


def _focused(page: Page) -> str:
    """The id or class of what has focus inside the widget ('' when focus is elsewhere)."""
    return str(page.evaluate(
        "() => { const h = document.querySelector('madoguchi-widget');"
        " if (document.activeElement !== h) return '';"
        " const a = h.shadowRoot.activeElement; return a ? (a.id || a.className) : ''; }"
    ))


def test_host_page_css_does_not_leak_in(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    page.goto(f"{widget_gateway.url}/demo")
    # The demo page styles every button pink with !important and sets a serif font on *.
    assert "255, 209, 220" in page.locator(".page-button").evaluate(
        "e => getComputedStyle(e).backgroundColor")
    launcher = page.locator(".launcher")
    # Polled: the colour eases in (a short transition) once the stylesheet has loaded.
    expect(launcher).to_have_css("background-color", "rgb(23, 74, 143)")
    expect(launcher).to_have_css("font-size", "16px")
    expect(launcher).to_have_css("border-style", "none")
    font = launcher.evaluate("e => getComputedStyle(e).fontFamily")
    assert "Times" not in font and "system-ui" in font


def test_on_a_phone_the_panel_is_full_screen(
    browser: Any, widget_gateway: Gateway
) -> None:
    context, page, watch = open_context(
        browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        device_scale_factor=2,
    )
    try:
        page.goto(f"{widget_gateway.url}/demo")
        page.locator(".launcher").tap()
        panel = page.locator(".panel")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box is not None
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        ask(page, "保育園の申し込みはいつまでですか")
        expect(last_answer(page)).to_contain_text("12月10日")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
        assert watch.dialogs == []
    finally:
        context.close()


def test_embedded_on_another_origin_allowed_by_cors(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, _ = ctx
    open_widget(page, widget_gateway.site_url)
    expect(page.locator(".title")).to_have_text("City help desk")
    with page.expect_request(f"{widget_gateway.url}/api/chat/stream") as req:
        ask(page, "保育園の申し込みはいつまでですか")
    # data-lang="en" on the tag: the page's language wins over detection.
    assert json.loads(req.value.post_data or "{}")["metadata"] == {"lang": "en"}
    expect(last_answer(page)).to_contain_text("December 10")


def test_embedded_on_an_origin_not_in_the_allow_list(
    ctx: tuple[Any, Page, PageWatch], widget_gateway: Gateway
) -> None:
    _, page, watch = ctx
    # localhost and 127.0.0.1 are different origins; only the latter is allowed.
    open_widget(page, widget_gateway.site_url.replace("127.0.0.1", "localhost"))
    page.locator("#mw-input").fill("When is the deadline to apply for nursery school?")
    page.locator("#mw-input").press("Enter")
    expect(page.locator(".log .msg.error")).to_contain_text("Could not connect")
    watch.console_errors.clear()  # the browser reports the CORS refusal; expected here


def test_no_serious_accessibility_violations(
    browser: Any, widget_gateway: Gateway
) -> None:
    """axe-core (from npm) over the demo page with the widget closed, then open with an
    answer, on a desktop and on a phone."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make test` (its browser step runs npm ci)")
    for viewport in ({"width": 1280, "height": 860}, {"width": 390, "height": 844}):
        # The demo page's CSP refuses injected scripts, axe included: bypass it for axe only.
        context, page, watch = open_context(browser, viewport=viewport, bypass_csp=True)
        try:
            page.goto(f"{widget_gateway.url}/demo")
            page.add_script_tag(path=str(AXE))
            problems = _axe(page)
            open_widget(page, f"{widget_gateway.url}/demo")
            page.add_script_tag(path=str(AXE))
            ask(page, "保育園の申し込みはいつまでですか")
            page.locator("#mw-lang").select_option("th")
            problems += _axe(page)
            assert problems == [], "\n".join(problems)
            assert watch.dialogs == []
        finally:
            context.close()


def _axe(page: Page) -> list[str]:
    result = page.evaluate(
        "() => axe.run({include: [['madoguchi-widget']]}, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
