"""The viewer in a real browser: Debian's headless chromium driven by Playwright (no browser download) walks from the
sessions page to a session and a call of the demo's data, and checks that tokens, cost, TTFT and the image render.
Screenshots are saved under ``test-artifacts/`` (gitignored) and their paths printed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fallom_otel.collector import Collector
from fallom_otel.collector._views import fmt_cost, fmt_ms, fmt_tokens
from tests.collector.conftest import REPO, DemoData

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (make test installs Debian chromium when run as root)"
)


@pytest.fixture
def viewer(demo_data: DemoData) -> Iterator[Collector]:
    with Collector(db=demo_data.db, port=0) as running:
        yield running


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1360, "height": 900},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_sessions_session_and_call_pages_in_chromium(viewer: Collector, page) -> None:
    store = viewer.store
    assert store is not None
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    # Sessions page: both demo sessions with their totals.
    page.goto(viewer.url + "/")
    rows = page.locator("#sessions tbody tr")
    assert rows.count() == 2
    vision = store.sessions()[0] if store.sessions()[0]["config_key"] == "vision-assistant" else store.sessions()[1]
    row = page.locator("#sessions tbody tr", has_text="vision-assistant")
    assert fmt_tokens(vision["input_tokens"]) in row.inner_text()
    assert fmt_cost(vision["cost_usd"]) in row.inner_text()
    assert page.locator("#model-totals tbody tr").count() == len(store.model_totals())
    _shot(page, "collector-sessions.png")

    # Session page: a timeline bar per call, a TTFT segment on the streamed one.
    row.locator("a.session-link").click()
    page.wait_for_url(re.compile(r"/session\?"))
    calls = store.session_calls(vision["config_key"], vision["session_id"])
    assert page.locator("#timeline li").count() == len(calls) == 2
    assert page.locator("#timeline .bar").count() == 2
    assert page.locator("#timeline .bar .ttft").count() == sum(c["ttft_ms"] is not None for c in calls) >= 1
    bar_width = page.locator("#timeline .bar").first.bounding_box()
    assert bar_width is not None and bar_width["width"] > 20
    assert fmt_cost(vision["cost_usd"]) in page.locator("#session-stats").inner_text()
    _shot(page, "collector-session.png")

    # Call page of the streamed call with the image.
    streamed = next(c for c in calls if c["ttft_ms"] is not None)
    page.locator(f'#calls a.call-link[href="/calls/{streamed["id"]}"]').click()
    page.wait_for_url(re.compile(r"/calls/\d+$"))
    stats = page.locator("#call-stats")
    assert stats.locator('[data-field="input-tokens"]').inner_text() == fmt_tokens(streamed["input_tokens"])
    assert stats.locator('[data-field="output-tokens"]').inner_text() == fmt_tokens(streamed["output_tokens"])
    assert stats.locator('[data-field="ttft"]').inner_text() == fmt_ms(streamed["ttft_ms"])
    assert re.fullmatch(r"\d+ ms", fmt_ms(streamed["ttft_ms"]))
    cost_text = stats.locator('[data-field="cost"]').inner_text()
    if streamed["cost_usd"] is not None:
        assert cost_text.startswith(fmt_cost(streamed["cost_usd"])) and cost_text.startswith("$")
    else:  # no price known for the model: the viewer says so instead of inventing a number
        assert cost_text == "—"
    image = page.locator("#chat img.chat-image")
    assert image.count() == 1
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [96, 96]
    assert page.locator("#chat .msg.assistant").count() >= 1
    assert "What is in this picture?" in page.locator("#chat").inner_text()
    _shot(page, "collector-call.png")

    # The failing call's page shows the error.
    failed = next(c for c in store.calls() if c["status"] == "ERROR")
    page.goto(f"{viewer.url}/calls/{failed['id']}")
    assert failed["error_type"] in page.locator("#error").inner_text()

    assert not problems, problems
