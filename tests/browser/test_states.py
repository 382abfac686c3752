"""The page leads with a verdict in every state a user meets (demo, nothing configured, a broken
provider, an expired session), at desktop and phone width, with a screenshot of each; emoji and
CJK text render."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_uat import TIMEOUT_MS
from tests.sessions_fixtures import anthropic_profile
from tests.support import Daemon, sandbox_env, spawn_daemon

WIDTHS = {"desktop": 1280, "phone": 390}


def _expect(locator: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_contain_text(text, timeout=TIMEOUT_MS)


def _open(browser: Any, daemon: Daemon, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{daemon.url}/#token={daemon.token}")
    _expect(page.locator("#live"), "live")
    return page


def _shots(browser: Any, daemon: Daemon, screenshots: Path, name: str) -> None:
    for label, width in WIDTHS.items():
        page = _open(browser, daemon, width)
        try:
            page.locator("#card-openai [data-testid=verdict]").wait_for()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(screenshots / f"state-{name}-{label}.png"), full_page=True)
        finally:
            page.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def _env(home: Path) -> dict[str, str]:
    return {**sandbox_env(home), "ANTHROPIC_API_KEY": "", "OPENAI_API_KEY": ""}


@pytest.fixture
def demo() -> Iterator[Daemon]:
    daemon = spawn_daemon("--demo")
    try:
        yield daemon
    finally:
        daemon.stop()


def test_demo_state(browser: Any, demo: Daemon, screenshots: Path) -> None:
    page = _open(browser, demo, 1280)
    try:
        anthropic = page.locator("#card-anthropic")
        _expect(anthropic.locator("[data-testid=verdict]"), "Ready — token session, expires in")
        _expect(anthropic.locator("[data-testid=health]"), "ready")
        _expect(
            page.locator("#card-openai [data-testid=verdict]"), "(the session failed; fallback)"
        )
        # Emoji and CJK, through the provider and back.
        page.fill("#prompt-text", "你好 世界 🌍🚀 こんにちは")
        page.click("#prompt-run")
        _expect(page.locator("#prompt-output"), "Echo: 你好 世界 🌍🚀 こんにちは")
        fonts = page.evaluate(
            """() => [document.fonts.check('16px "Noto Color Emoji"', '🌍'),
                      document.fonts.check('16px "Noto Sans CJK SC"', '你好')]"""
        )
        assert fonts == [True, True], "emoji and CJK fonts are installed (.ci/run)"
        _expect(page.locator("#log"), "anthropic · ")  # the execution shows in the activity
        page.screenshot(path=str(screenshots / "state-demo-unicode.png"), full_page=True)
        # Feedback for a button.
        page.click("#card-anthropic .check-now")
        _expect(anthropic.locator("[data-testid=feedback]"), "Checked: Ready")
    finally:
        page.close()
    _shots(browser, demo, screenshots, "demo")


def test_empty_state_says_what_to_do(browser: Any, home: Path, screenshots: Path) -> None:
    daemon = spawn_daemon(env=_env(home))
    try:
        page = _open(browser, daemon, 1280)
        try:
            card = page.locator("#card-anthropic")
            _expect(card.locator("[data-testid=verdict]"), "Not ready — add an API key")
            _expect(card.locator("[data-testid=health]"), "not ready")
            assert card.locator(".fallback-option").is_hidden(), "no fallback in API-key mode"
            card.locator("[data-testid=fix]").click()
            focused = page.evaluate("document.activeElement.name")
            assert focused == "api_key"
        finally:
            page.close()
        _shots(browser, daemon, screenshots, "empty")
    finally:
        daemon.stop()


def test_a_session_while_in_key_mode_is_offered(
    browser: Any, home: Path, screenshots: Path
) -> None:
    anthropic_profile(home / ".config" / "anthropic")
    daemon = spawn_daemon(env=_env(home))
    try:
        page = _open(browser, daemon, 1280)
        try:
            card = page.locator("#card-anthropic")
            _expect(card.locator("[data-testid=problem]"), "token session")
            _expect(card.locator("[data-testid=fix]"), "Use the token session")
            card.locator("[data-testid=fix]").click()
            _expect(card.locator("[data-testid=verdict]"), "Ready — token session")
            assert card.locator(".fallback-option").is_visible()
        finally:
            page.close()
    finally:
        daemon.stop()


def test_expired_state(browser: Any, home: Path, screenshots: Path) -> None:
    anthropic_profile(home / ".config" / "anthropic", expires_in=-60)
    daemon = spawn_daemon(env=_env(home))
    try:
        headers = {"Authorization": f"Bearer {daemon.token}"}
        httpx.put(
            f"{daemon.url}/v1/providers/anthropic/settings",
            json={"preferred_auth_mode": "token_session"},
            headers=headers,
        )
        page = _open(browser, daemon, 1280)
        try:
            card = page.locator("#card-anthropic")
            _expect(card.locator("[data-testid=verdict]"), "Not ready — sign in again")
            _expect(card.locator("[data-testid=problem]"), "ant auth login")
        finally:
            page.close()
        _shots(browser, daemon, screenshots, "expired")
    finally:
        daemon.stop()


def test_broken_provider_state_shows_why_and_when(
    browser: Any, demo: Daemon, screenshots: Path
) -> None:
    headers = {"Authorization": f"Bearer {demo.token}"}
    body = {"provider": "anthropic", "messages": [{"role": "user", "content": "!status 529"}]}
    with httpx.Client(base_url=demo.url, headers=headers, timeout=60) as client:
        for _ in range(2):  # three attempts each: five consecutive faults open the breaker
            client.post("/v1/executions", json=body)
        health = client.get("/v1/providers/anthropic").json()["health"]
    assert health["breaker"] == "open"
    page = _open(browser, demo, 1280)
    try:
        card = page.locator("#card-anthropic")
        _expect(card.locator("[data-testid=verdict]"), "Paused until")
        _expect(card.locator("[data-testid=health]"), "paused")
        _expect(card.locator("[data-testid=health-detail]"), "next try at")
    finally:
        page.close()
    _shots(browser, demo, screenshots, "broken")
