"""The page with a wire added from a test folder (tests/toy_wire): its Add form offers the wire's
format, a provider of it added there gets its card in the provider list, and a prompt run from
the page goes over it."""

from __future__ import annotations

from typing import Any

from service.process.config import DaemonConfig
from tests.support import LiveServer, make_runtime
from tests.toy_wire import KEY, MODEL, WIRE
from tests.toy_wire.fake import FakeToy

TIMEOUT_MS = 15_000


def test_the_page_adds_lists_and_runs_a_provider_of_an_added_wire(
    browser: Any, config: DaemonConfig
) -> None:
    from playwright.sync_api import expect

    fake = FakeToy({KEY})
    runtime = make_runtime(config, watch=False, wires=(WIRE,))
    with fake.in_thread(), LiveServer.start(config, runtime) as live, live.client() as http:
        link = http.post("/v1/page/link").json()["url"]
        context = browser.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(link)
            expect(page.locator("#card-anthropic")).to_be_visible()
            options = page.locator("#add-wire option").all_inner_texts()
            assert "Toy Echo" in options
            assert "OpenAI Chat Completions" in options
            page.fill("#add-id", "toybox")
            page.fill("#add-name", "Toy box")
            page.select_option("#add-wire", "toy-echo")
            page.fill("#add-url", fake.url)
            page.fill("#add-key", KEY)
            page.fill("#add-model", MODEL)
            page.click("#add-provider button[type=submit]")
            card = page.locator("#card-toybox")
            expect(card).to_contain_text("Toy box")
            expect(card).to_contain_text("toy-echo")
            assert KEY not in page.content()
            page.select_option("#prompt-provider", "toybox")
            page.fill("#prompt-text", "over the toy wire")
            page.click("#prompt-run")
            expect(page.locator("#prompt-output")).to_contain_text("over the toy wire")
            expect(page.locator("#prompt-meta")).to_contain_text("toybox · ")
        finally:
            context.close()
