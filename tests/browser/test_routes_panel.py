"""The page's routes: made and removed there (the list kept current by the `routes` event), and
named by the test prompt, which shows the target passed over and the one that served; each
route's plan (where its next request would go now) follows the providers' state."""

from __future__ import annotations

from typing import Any

from adapters.fakes.server import Step
from service.executions.retry import RetryPolicy
from service.process.config import DaemonConfig
from tests.support import ANTHROPIC_KEY, OPENAI_KEY, LiveServer, make_runtime, upstreams

TIMEOUT_MS = 15_000


def test_routes_are_made_named_and_removed_on_the_page(browser: Any, config: DaemonConfig) -> None:
    from playwright.sync_api import expect

    with upstreams() as fakes:
        runtime = make_runtime(
            config, adapters=fakes.adapters(), watch=False, policy=RetryPolicy(max_retries=0)
        )
        with LiveServer.start(config, runtime) as live, live.client() as http:
            http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
            http.put("/v1/providers/openai/api-key", json={"api_key": OPENAI_KEY})
            link = http.post("/v1/page/link").json()["url"]
            context = browser.new_context()
            try:
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(link)
                expect(page.locator("#routes-list")).to_contain_text("No routes yet.")
                page.fill("#route-name", "claude-else-gpt")
                page.fill("#route-targets", "anthropic, openai:gpt-5.4")
                page.click("#add-route button[type=submit]")
                expect(page.locator("#route-claude-else-gpt")).to_contain_text(
                    "claude-else-gpt: anthropic, then openai:gpt-5.4"
                )
                plan = page.locator('[data-testid="plan-claude-else-gpt"]')
                expect(plan).to_contain_text("— now anthropic:claude-")
                fakes.anthropic.push(Step(status=529, body="Overloaded", path="/v1/messages"))
                page.select_option("#prompt-provider", "route:claude-else-gpt")
                page.fill("#prompt-text", "through the route")
                page.click("#prompt-run")
                expect(page.locator("#prompt-output")).to_contain_text("Echo: through the route")
                meta = page.locator("#prompt-meta")
                expect(meta).to_contain_text("route claude-else-gpt (passed over anthropic)")
                expect(meta).to_contain_text("openai · gpt-5.4")
                # A pause after a 429 shows on the route's plan: the next request goes on at once.
                fakes.anthropic.push(
                    Step(status=429, headers=[("retry-after", "30")], path="/v1/messages")
                )
                page.click("#prompt-run")
                expect(meta).to_contain_text("passed over anthropic")
                expect(plan).to_contain_text(
                    "now openai:gpt-5.4; passing over anthropic rate_limited (30 s)"
                )
                page.click("#route-claude-else-gpt button")
                expect(page.locator("#routes-list")).to_contain_text("No routes yet.")
                assert http.get("/v1/routes").json()["routes"] == []
            finally:
                context.close()
