"""The product plan's manual acceptance checklist, automated in a real browser against the real
daemon process and the fake upstreams. Steps run in order and share one daemon (restarted in
step 8); each saves a screenshot under artifacts/screenshots/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.sessions_fixtures import anthropic_profile, codex_api_key
from tests.support import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    Daemon,
    Upstreams,
    sandbox_env,
    spawn_daemon,
    upstreams,
)

TIMEOUT_MS = 15_000


@dataclass
class World:
    """Everything the steps share."""

    home: Path
    fakes: Upstreams
    daemon: Daemon
    page: Any
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.daemon = spawn_daemon(env=self.env)

    def login_url(self) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for line in list(self.daemon.stderr):
                record = json.loads(line)
                if "login_url" in record:
                    return str(record["login_url"])
            time.sleep(0.05)
        raise AssertionError("the daemon never logged its page link")


@pytest.fixture(scope="module")
def world(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("uat-home")
    with upstreams() as fakes:
        env = {**fakes.env(), **sandbox_env(home)}
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        world = World(home, fakes, spawn_daemon(env=env), page, env)
        try:
            yield world
        finally:
            world.daemon.stop()
            context.close()


def _card(world: World, provider: str) -> Any:
    return world.page.locator(f"#card-{provider}")


def _shot(world: World, screenshots: Path, name: str) -> None:
    world.page.screenshot(path=str(screenshots / f"uat-{name}.png"), full_page=True)


def _expect_text(locator: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_contain_text(text, timeout=TIMEOUT_MS)


def _run_prompt(world: World, provider: str, text: str) -> None:
    page = world.page
    page.select_option("#prompt-provider", provider)
    page.fill("#prompt-text", text)
    page.click("#prompt-run")


def _answer(world: World, provider: str, text: str, mode: str) -> None:
    _run_prompt(world, provider, text)
    _expect_text(world.page.locator("#prompt-output"), f"Echo: {text}")
    _expect_text(world.page.locator("#prompt-meta"), f"{provider} · ")
    _expect_text(world.page.locator("#prompt-meta"), mode)


def _save_key(world: World, provider: str, key: str) -> None:
    card = _card(world, provider)
    field_ = card.locator("input[name=api_key]")
    assert field_.get_attribute("type") == "password"
    field_.fill(key)
    card.locator("button[type=submit]").click()
    _expect_text(card.locator("[data-testid=key]"), f"configured …{key[-4:]}")
    assert key not in world.page.content()


def test_1_no_auth_shows_missing_auth_with_remediation(world: World, screenshots: Path) -> None:
    page = world.page
    page.goto(world.login_url())
    assert page.url.rstrip("/") == world.daemon.url
    for provider in ("anthropic", "openai"):
        problem = _card(world, provider).locator("[data-testid=problem]")
        _expect_text(problem, "What to do:")
        _expect_text(_card(world, provider).locator("[data-testid=key]"), "missing")
    _expect_text(page.locator("#live"), "live")
    _shot(world, screenshots, "1-no-auth")


def test_1b_without_a_page_token_the_page_only_says_how_to_get_in(
    world: World, browser: Any
) -> None:
    stranger = browser.new_page()
    try:
        stranger.goto(world.daemon.url + "/")
        _expect_text(stranger.locator("#signed-out"), "not signed in")
        assert stranger.locator("#card-anthropic").count() == 0
        stranger.goto(world.login_url())
        _expect_text(stranger.locator("#signed-out"), "not valid")  # a page link works once
        assert "#token=" not in stranger.url
    finally:
        stranger.close()


def test_1c_signed_in_without_cookies_and_a_reload_stays_signed_in(world: World) -> None:
    page = world.page
    assert "#token=" not in page.url, "the code leaves the address bar at once"
    assert page.context.cookies() == []
    token = page.evaluate("sessionStorage.getItem('kata-providers-page-token')")
    assert token
    assert token not in (world.daemon.token,)
    page.reload()
    _expect_text(page.locator("#live"), "live")
    _expect_text(_card(world, "openai").locator("[data-testid=key]"), "missing")
    assert page.locator("#signed-out").is_hidden()


def test_1e_the_api_docs_render_offline_from_the_package(world: World, screenshots: Path) -> None:
    page = world.page
    requests: list[str] = []

    def record(request: Any) -> None:
        requests.append(request.url)

    page.on("request", record)
    page.click("text=API documentation")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    page.screenshot(path=str(screenshots / "uat-1e-docs.png"))
    page.remove_listener("request", record)
    assert requests
    assert all(url.startswith((world.daemon.url, "data:")) for url in requests)
    page.go_back()
    _expect_text(page.locator("#live"), "live")


def test_1d_another_local_origin_cannot_use_the_page_credential(world: World, browser: Any) -> None:
    import http.server
    import threading

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>other local app</title>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    other = world.page.context.new_page()  # same browser profile as the signed-in page
    try:
        other.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert other.evaluate("sessionStorage.length") == 0
        assert other.evaluate("document.cookie") == ""
        status = other.evaluate(
            """async (url) => {
                try {
                    const r = await fetch(url + "/v1/providers", { credentials: "include" });
                    return r.status;
                } catch (e) { return "blocked"; }
            }""",
            world.daemon.url,
        )
        assert status in ("blocked", 401, 403)
        assert world.page.context.cookies() == []
    finally:
        other.close()
        server.shutdown()


def test_2_anthropic_key_lists_models_and_streams(world: World, screenshots: Path) -> None:
    _save_key(world, "anthropic", ANTHROPIC_KEY)
    models = _card(world, "anthropic").locator("select[name=default_model] option")
    _expect_text(
        _card(world, "anthropic").locator("select[name=default_model]"), "Claude Sonnet 5.5"
    )
    assert models.count() >= 4
    _answer(world, "anthropic", "hello from step two", "api_key")
    _shot(world, screenshots, "2-anthropic-key")


def test_3_openai_key_lists_models_and_streams(world: World, screenshots: Path) -> None:
    _save_key(world, "openai", OPENAI_KEY)
    _expect_text(_card(world, "openai").locator("select[name=default_model]"), "gpt-5.5")
    _answer(world, "openai", "hello from step three", "api_key")
    _shot(world, screenshots, "3-openai-key")


def test_3b_usage_shows_spend_budgets_and_the_latest_executions_live(
    world: World, screenshots: Path
) -> None:
    page = world.page
    usage = page.locator("[data-testid=usage]")
    _expect_text(usage.locator("[data-testid=usage-providers]"), "anthropic")
    _expect_text(usage.locator("[data-testid=usage-providers]"), "openai")
    _expect_text(usage.locator("[data-testid=usage-models]"), "gpt-5.5")
    assert usage.locator("[data-testid=usage-chart] svg rect.bar").count() == 14
    latest = usage.locator("[data-testid=usage-latest] tbody tr")
    before = latest.count()
    assert before >= 2
    card = _card(world, "anthropic")
    card.locator("[data-testid=budget-input]").fill("25")
    card.locator("[data-testid=budget-input]").press("Tab")
    _expect_text(card.locator("[data-testid=budget]"), "of $25.00 today")
    assert card.locator("[data-testid=budget-meter]").is_visible()
    _expect_text(card.locator("[data-testid=budget]"), "running 0 of 8")
    _answer(world, "anthropic", "count this one", "api_key")
    # The ledger's `usage` event refreshes the panel without a reload.
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=usage-latest] tbody tr').length > n",
        arg=before,
        timeout=TIMEOUT_MS,
    )
    _shot(world, screenshots, "3b-usage")


def test_3c_an_added_provider_appears_answers_and_goes_away(
    world: World, screenshots: Path
) -> None:
    from adapters.fakes.ollama import FakeOllama

    page = world.page
    with FakeOllama().in_thread() as ollama:
        page.fill("#add-id", "ollama")
        page.fill("#add-name", "Ollama here")
        page.fill("#add-url", f"{ollama.url}/v1")
        page.select_option("#add-auth", "none")
        page.fill("#add-model", "llama3.2:latest")
        page.click("#add-provider button[type=submit]")
        _expect_text(_card(world, "ollama").locator("[data-testid=endpoint]"), "loopback")
        _expect_text(page.locator("#prompt-provider"), "Ollama here")
        _run_prompt(world, "ollama", "hello from an added provider")
        _expect_text(page.locator("#prompt-meta"), "ollama · ")
        _shot(world, screenshots, "3c-added-provider")
        _card(world, "ollama").locator("button.remove-provider").click()
        from playwright.sync_api import expect

        expect(_card(world, "ollama")).to_have_count(0, timeout=TIMEOUT_MS)
        assert page.locator("#prompt-provider option[value=ollama]").count() == 0


def test_4_anthropic_token_session(world: World, screenshots: Path) -> None:
    path = anthropic_profile(world.home / ".config" / "anthropic")
    card = _card(world, "anthropic")
    _expect_text(card.locator("[data-testid=session]"), "active")
    card.locator("select[name=preferred_auth_mode]").select_option("token_session")
    _expect_text(card.locator("[data-testid=auth]"), "token session (requested token session)")
    _expect_text(card.locator("[data-testid=session]"), str(path))
    _answer(world, "anthropic", "on the session", "token_session")
    _shot(world, screenshots, "4-anthropic-session")


def test_5_openai_token_session(world: World, screenshots: Path) -> None:
    path = codex_api_key(world.home / ".codex")
    card = _card(world, "openai")
    _expect_text(card.locator("[data-testid=session]"), "active")
    card.locator("select[name=preferred_auth_mode]").select_option("token_session")
    _expect_text(card.locator("[data-testid=auth]"), "token session (requested token session)")
    _expect_text(card.locator("[data-testid=session]"), str(path))
    _answer(world, "openai", "on the codex session", "token_session")
    _shot(world, screenshots, "5-openai-session")


def test_6_expired_or_removed_sessions_fall_back_to_the_key(
    world: World, screenshots: Path
) -> None:
    anthropic_profile(world.home / ".config" / "anthropic", expires_in=-60)
    (world.home / ".codex" / "auth.json").unlink()
    for provider, state in (("anthropic", "expired"), ("openai", "missing")):
        card = _card(world, provider)
        _expect_text(card.locator("[data-testid=session]"), state)
        _expect_text(card.locator("[data-testid=auth]"), "fallback applied")
        _expect_text(card.locator("[data-testid=auth]"), "api key (requested token session)")
    _answer(world, "anthropic", "after expiry", "api_key (fallback applied)")
    _answer(world, "openai", "after removal", "api_key (fallback applied)")
    _shot(world, screenshots, "6-fallback")


def test_7_removed_keys_give_provider_errors_and_the_rest_works(
    world: World, screenshots: Path
) -> None:
    card = _card(world, "anthropic")
    card.locator("button.remove").click()
    _expect_text(card.locator("[data-testid=key]"), "missing")
    _expect_text(card.locator("[data-testid=problem]"), "What to do:")
    _run_prompt(world, "anthropic", "will fail")
    error = world.page.locator("#prompt-error")
    _expect_text(error, "session_expired")
    _expect_text(error, "What to do:")
    _answer(world, "openai", "still works", "api_key")
    _shot(world, screenshots, "7-keys-removed")


def test_8_restart_brings_settings_and_indicators_back(world: World, screenshots: Path) -> None:
    before = {
        p: _card(world, p).locator("[data-testid=auth]").inner_text()
        for p in ("anthropic", "openai")
    }
    keys_before = {
        p: _card(world, p).locator("[data-testid=key]").inner_text()
        for p in ("anthropic", "openai")
    }
    modes = {
        p: _card(world, p).locator("select[name=preferred_auth_mode]").input_value()
        for p in ("anthropic", "openai")
    }
    assert world.daemon.stop() == 0
    world.start()
    world.page.goto(world.login_url())
    for provider in ("anthropic", "openai"):
        card = _card(world, provider)
        _expect_text(
            card.locator("[data-testid=auth]"),
            before[provider].replace("fallback applied", "").strip(),
        )
        _expect_text(card.locator("[data-testid=key]"), keys_before[provider].split(";")[0])
        assert card.locator("select[name=preferred_auth_mode]").input_value() == modes[provider]
    _expect_text(_card(world, "openai").locator("[data-testid=auth]"), "fallback applied")
    _answer(world, "openai", "after restart", "api_key")
    _shot(world, screenshots, "8-restart")


def test_9_reads_well_on_a_phone(world: World, browser: Any, screenshots: Path) -> None:
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        phone.goto(world.daemon.url + "/#token=" + world.daemon.token)
        phone.locator("#card-openai").wait_for()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "no horizontal scrolling on a phone"
        phone.keyboard.press("Tab")
        focused = phone.evaluate("document.activeElement && document.activeElement.tagName")
        assert focused in ("SELECT", "INPUT", "BUTTON", "TEXTAREA")
        phone.screenshot(path=str(screenshots / "uat-9-phone.png"), full_page=True)
    finally:
        phone.close()
