"""The page's execution panel carries the agent-grade request: a reasoning effort, an attached
image or PDF and a structured answer reach the provider, and the thinking and the parsed
answer come back on the page."""

from __future__ import annotations

from typing import Any

from service.process.config import DaemonConfig
from tests.support import ANTHROPIC_KEY, LiveServer, make_runtime, upstreams

TIMEOUT_MS = 15_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def test_the_panel_sends_reasoning_media_and_a_schema(browser: Any, config: DaemonConfig) -> None:
    from playwright.sync_api import expect

    with upstreams() as fakes:
        runtime = make_runtime(config, adapters=fakes.adapters(), watch=False)
        with LiveServer.start(config, runtime) as live, live.client() as http:
            http.put("/v1/providers/anthropic/api-key", json={"api_key": ANTHROPIC_KEY})
            link = http.post("/v1/page/link").json()["url"]
            context = browser.new_context()
            try:
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(link)
                expect(page.locator("#card-anthropic")).to_be_visible()
                page.select_option("#prompt-provider", "anthropic")
                page.select_option("#prompt-reasoning", "high")
                page.set_input_files(
                    "#prompt-file", {"name": "cat.png", "mimeType": "image/png", "buffer": PNG}
                )
                page.check("#prompt-json")
                page.fill("#prompt-text", "Describe the picture")
                page.click("#prompt-run")
                expect(page.locator("#prompt-parsed")).to_contain_text(
                    '{"answer":"Echo: Describe the picture"}'
                )
                expect(page.locator("#prompt-thinking")).to_contain_text("Let me think")
                sent = [r.json() for r in fakes.anthropic.requests if r.path == "/v1/messages"]
                parts = sent[-1]["messages"][0]["content"]
                assert [p["type"] for p in parts] == ["text", "image"]
                assert sent[-1]["thinking"] == {"type": "adaptive"}
                assert sent[-1]["output_config"]["effort"] == "high"
                page.set_input_files(
                    "#prompt-file",
                    {"name": "spec.pdf", "mimeType": "application/pdf", "buffer": PDF},
                )
                page.uncheck("#prompt-json")
                page.click("#prompt-run")
                expect(page.locator("#prompt-output")).to_contain_text("Echo: Describe the picture")
                sent = [r.json() for r in fakes.anthropic.requests if r.path == "/v1/messages"]
                document = sent[-1]["messages"][0]["content"][1]
                assert (document["type"], document["title"]) == ("document", "spec.pdf")
            finally:
                context.close()
