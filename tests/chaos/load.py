"""What the shell does to the daemon in a chaos run, as clients: waves of whole and streamed
executions across both providers (some abandoned at random points), official SDK clients on the
compatible routes, and `/v1/events` subscribers that leave and resume. Each request is recorded
with its one outcome; a request that outlives its deadline plus 2 s is recorded as a hang."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai

GRACE_S = 2.0
MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5.5"}


@dataclass
class Daemon:
    """The daemon now running (the supervisor replaces it after a kill)."""

    url: str = ""
    token: str = ""
    pid: int = 0
    generation: int = 0
    kills: list[float] = field(default_factory=list)  # monotonic times of each kill -9
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def killed_between(self, start: float, end: float) -> bool:
        return any(start - 0.5 <= at <= end + 0.5 for at in self.kills)


@dataclass
class Outcome:
    """One request's end, as its client saw it."""

    marker: str
    kind: str
    provider: str
    started: float
    ended: float = 0.0
    outcome: str = ""  # done | error:<code> | aborted | killed | hang | broken:<why>
    terminals: int = 0
    after_terminal: int = 0
    generation: int = 0
    detail: str = ""  # for a broken outcome: the exception and where it was raised
    # On a route: its targets, the targets its error passed over, whether a fallback followed
    # output, and whether the whole answer's text differed from what was streamed.
    route: list[str] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)
    output_seen: bool = False
    fell_through: int = 0  # targets a routed request passed over (and still went on)
    fallback_after_output: bool = False
    text_differs: bool = False


def new_marker() -> str:
    return "ck" + os.urandom(6).hex()


class Load:
    """Runs until `stop` is set; `outcomes` holds every request's end."""

    def __init__(self, daemon: Daemon, rng: random.Random, queue_wait_s: float, total_s: float):
        self.daemon = daemon
        self.rng = rng
        self.queue_wait_s = queue_wait_s
        self.total_s = total_s
        self.outcomes: list[Outcome] = []
        # Providers a user added that executions may name now (the actors add and remove them).
        self.added: list[str] = []
        # Routes that executions may name, by name: their targets' providers.
        self.routes: dict[str, list[str]] = {}
        # (subscriber, daemon generation, event id, whether it is the first after a resume)
        self.event_ids: list[tuple[int, int, int, bool]] = []
        self.stop = asyncio.Event()
        # No client timeout: each request is bounded by its deadline + 2 s in `_bounded`.
        limits = httpx.Limits(max_connections=256)
        self._http = httpx.AsyncClient(timeout=None, limits=limits)  # noqa: S113

    async def close(self) -> None:
        await self._http.aclose()

    async def waves(self, max_wave: int) -> None:
        """Waves of 1..max_wave concurrent executions, whole and streamed, both providers."""
        while not self.stop.is_set():
            size = self.rng.randint(1, max_wave)
            await asyncio.gather(*(self._execution() for _ in range(size)))
            await asyncio.sleep(self.rng.uniform(0, 0.2))

    async def sdk_clients(self) -> None:
        """One official SDK client after another on the compatible routes."""
        while not self.stop.is_set():
            await (self._anthropic_sdk() if self.rng.random() < 0.5 else self._openai_sdk())

    async def subscriber(self, number: int) -> None:
        """Reads /v1/events for a while, leaves, and resumes with Last-Event-ID."""
        last: int | None = None
        generation = -1
        while not self.stop.is_set():
            await self.daemon.ready.wait()
            if generation != self.daemon.generation:
                last, generation = None, self.daemon.generation
            headers = self._auth() | ({"Last-Event-ID": str(last)} if last is not None else {})
            resumed = last is not None
            try:
                async with asyncio.timeout(self.rng.uniform(0.5, 4)):
                    url = f"{self.daemon.url}/v1/events"
                    async with self._http.stream("GET", url, headers=headers) as answer:
                        async for line in answer.aiter_lines():
                            if line.startswith("id: "):
                                last = int(line[4:])
                                self.event_ids.append((number, generation, last, resumed))
                                resumed = False
            except (TimeoutError, httpx.HTTPError):
                pass

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.daemon.token}"}

    async def _execution(self) -> None:
        provider = self.rng.choice(("anthropic", "openai", *self.added))
        route = (
            self.rng.choice(sorted(self.routes))
            if self.routes and self.rng.random() < 0.3
            else None
        )
        streamed = self.rng.random() < 0.5
        timeout_s = self.rng.choice((None, None, 5.0, 10.0, 20.0))
        abort_after = self.rng.randint(0, 6) if streamed and self.rng.random() < 0.1 else None
        record = Outcome(new_marker(), "stream" if streamed else "whole", provider, 0.0)
        body: dict[str, Any] = {
            "provider": provider,
            "stream": streamed,
            "messages": [{"role": "user", "content": f"{record.marker} say a few words"}],
            "metadata": {"run": record.marker},
        }
        if route is not None:
            del body["provider"]
            body["route"] = route
            record.provider = f"route:{route}"
            record.route = list(self.routes[route])
        if timeout_s is not None:
            body["timeout_s"] = timeout_s
        limit = (timeout_s or self.queue_wait_s + self.total_s) + GRACE_S
        await self._bounded(record, limit, self._post(record, body, abort_after))

    async def _post(self, record: Outcome, body: dict[str, Any], abort_after: int | None) -> None:
        url = f"{self.daemon.url}/v1/executions"
        if not body["stream"]:
            answer = await self._http.post(url, json=body, headers=self._auth())
            record.terminals = 1
            data = answer.json()
            record.outcome = "done" if answer.status_code == 200 else f"error:{data.get('code')}"
            record.passed_over = [p["provider"] for p in data.get("passed_over") or []]
            record.fell_through = len(data.get("fallbacks") or [])
            return
        async with self._http.stream("POST", url, json=body, headers=self._auth()) as answer:
            if answer.status_code != 200:
                await answer.aread()
                record.terminals = 1
                data = answer.json()
                record.outcome = f"error:{data.get('code')}"
                record.passed_over = [p["provider"] for p in data.get("passed_over") or []]
                return
            seen = 0
            streamed_text: list[str] = []
            async for line in answer.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                seen += 1
                if record.terminals:
                    record.after_terminal += 1
                kind = event["type"]
                if kind in ("text_delta", "thinking_delta", "tool_call_start"):
                    record.output_seen = True
                    streamed_text.append(event.get("text", ""))
                elif kind == "fallback":
                    record.fell_through += 1
                    record.fallback_after_output |= record.output_seen
                if kind in ("done", "error"):
                    record.terminals += 1
                    code = event.get("error", {}).get("code")
                    record.outcome = "done" if kind == "done" else f"error:{code}"
                    passed = (event.get("error") or {}).get("passed_over") or []
                    record.passed_over = [p["provider"] for p in passed]
                    if kind == "done":
                        whole = "".join(
                            b.get("text", "")
                            for b in event["result"]["content"]
                            if b["type"] == "text"
                        )
                        record.text_differs = whole != "".join(streamed_text)
                if abort_after is not None and seen > abort_after and not record.terminals:
                    record.outcome = "aborted"
                    return
            if not record.terminals:
                record.outcome = "broken:stream ended without a terminal event"

    async def _anthropic_sdk(self) -> None:
        record = Outcome(new_marker(), "sdk", "anthropic", 0.0)
        ask: dict[str, Any] = {
            "model": MODELS["anthropic"],
            "max_tokens": 64,
            "messages": [{"role": "user", "content": f"{record.marker} hello there"}],
            "metadata": {"user_id": record.marker},
        }

        async def call() -> None:
            # Built once the daemon is ready: during a restart the old URL and token are gone.
            client = anthropic.AsyncAnthropic(
                base_url=f"{self.daemon.url}/anthropic",
                api_key=self.daemon.token,
                max_retries=2,
                timeout=self.queue_wait_s + self.total_s + GRACE_S,
            )
            try:
                if self.rng.random() < 0.5:
                    async with client.messages.stream(**ask) as stream:
                        await stream.get_final_message()
                else:
                    await client.messages.create(**ask)
                record.outcome = "done"
            except anthropic.APIStatusError as error:
                # 200: the stream began, then ended with the API's own `error` event.
                code = "mid-stream" if error.status_code == 200 else error.status_code
                record.outcome = f"error:{code}"
            finally:
                record.terminals = 1
                await client.close()

        await self._bounded(record, 3 * (self.queue_wait_s + self.total_s + GRACE_S), call())

    async def _openai_sdk(self) -> None:
        record = Outcome(new_marker(), "sdk", "openai", 0.0)
        streamed = self.rng.random() < 0.5

        async def call() -> None:
            client = openai.AsyncOpenAI(
                base_url=f"{self.daemon.url}/openai/v1",
                api_key=self.daemon.token,
                max_retries=2,
                timeout=self.queue_wait_s + self.total_s + GRACE_S,
            )
            messages: Any = [{"role": "user", "content": f"{record.marker} hello there"}]
            try:
                if streamed:
                    stream = await client.chat.completions.create(
                        model=MODELS["openai"],
                        messages=messages,
                        user=record.marker,
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                    async for _ in stream:
                        pass
                else:
                    await client.chat.completions.create(
                        model=MODELS["openai"], messages=messages, user=record.marker
                    )
                record.outcome = "done"
            except openai.APIStatusError as error:
                record.outcome = f"error:{error.status_code}"
            except openai.APIError as error:
                if isinstance(error, openai.APIConnectionError):
                    raise
                record.outcome = "error:mid-stream"  # the stream's own `error` chunk
            finally:
                record.terminals = 1
                await client.close()

        await self._bounded(record, 3 * (self.queue_wait_s + self.total_s + GRACE_S), call())

    async def _bounded(self, record: Outcome, limit_s: float, work: Any) -> None:
        await self.daemon.ready.wait()
        record.generation = self.daemon.generation
        record.started = time.monotonic()
        try:
            async with asyncio.timeout(limit_s):
                await work
        except TimeoutError:
            record.outcome = "hang"
        except Exception as e:  # every way a request can end is an outcome
            record.outcome = f"broken:{type(e).__name__}"
            where = traceback.extract_tb(e.__traceback__)[-3:]
            record.detail = f"{e!r} at " + " < ".join(f"{f.filename}:{f.lineno}" for f in where)
        finally:
            if self.daemon.killed_between(record.started, time.monotonic()) and (
                record.outcome.startswith("broken") or record.outcome == "error:401"
            ):
                # Cut off by a kill -9, or an SDK retrying with the killed daemon's token.
                record.outcome = "killed"
            record.ended = time.monotonic()
            self.outcomes.append(record)
