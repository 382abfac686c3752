"""The human CLI client: `status`, `models`, `run`, `usage`, `keys set|remove`, against a running
daemon.

The daemon is found by `--url` / `KATA_PROVIDERS_URL` (or `KATA_PROVIDERS_HOST` and `_PORT`) and
`--token` / `KATA_PROVIDERS_TOKEN`, else by the discovery file the running daemon keeps in its
data folder (`KATA_PROVIDERS_HOME`). Exit codes: 0 done, 1 the daemon answered with an error,
2 bad arguments, 3 no daemon is running there.
API keys are read from standard input (or a hidden prompt), never from the command line, where
`ps` and shell history would see them.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from service.usage import table as usage_table

if TYPE_CHECKING:  # httpx is imported when a client command runs, not for `serve`
    import httpx

DEFAULT_URL = "http://127.0.0.1:8765"
EXIT_NOT_RUNNING = 3


class ClientError(Exception):
    """The daemon answered with an error body (or could not be reached)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", "error"))
        self.body = body


def add_commands(commands: Any) -> None:
    """Register the client subcommands on the CLI's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=None, help=f"daemon URL (KATA_PROVIDERS_URL, default {DEFAULT_URL})"
    )
    common.add_argument("--token", default=None, help="daemon token (prefer KATA_PROVIDERS_TOKEN)")
    common.add_argument("--json", action="store_true", help="print the daemon's JSON answer")

    commands.add_parser("status", parents=[common], help="show each provider's auth and health")
    models = commands.add_parser("models", parents=[common], help="list models")
    models.add_argument("--provider", choices=["anthropic", "openai"])
    models.add_argument("--refresh", action="store_true", help="bypass the 10-minute cache")
    run = commands.add_parser("run", parents=[common], help="run a prompt, streaming the answer")
    run.add_argument("prompt")
    run.add_argument("--provider", choices=["anthropic", "openai"])
    run.add_argument("--model")
    run.add_argument("--system")
    run.add_argument("--max-tokens", type=int, default=1024)
    usage = commands.add_parser(
        "usage", parents=[common], help="tokens and cost from the ledger, grouped, as a table"
    )
    usage_table.add_arguments(usage)
    keys = commands.add_parser("keys", parents=[common], help="store or remove an API key")
    keys.add_argument("action", choices=["set", "remove"])
    keys.add_argument("provider", choices=["anthropic", "openai"])
    keys.add_argument("--verify", action="store_true", help="probe the provider before storing")
    wait = commands.add_parser(
        "wait", parents=[common], help="wait until the daemon answers (for scripts)"
    )
    wait.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    page = commands.add_parser(
        "open", parents=[common], help="print (and open) a fresh one-time link to the status page"
    )
    page.add_argument(
        "--no-browser", action="store_true", help="only print the link, do not open a browser"
    )


def _discovered() -> dict[str, Any]:
    """The running daemon's discovery file, when there is one."""
    from pathlib import Path

    from service.process.config import default_data_dir
    from service.process.instance import read_discovery

    home = os.environ.get("KATA_PROVIDERS_HOME")
    return read_discovery(Path(home).expanduser() if home else default_data_dir()) or {}


def _target(args: argparse.Namespace) -> tuple[str, str | None, str]:
    """Where the daemon is, its token, and how that was found (for messages)."""
    url = args.url or os.environ.get("KATA_PROVIDERS_URL")
    token = args.token or os.environ.get("KATA_PROVIDERS_TOKEN")
    if url is not None:
        return url, token, "--url" if args.url else "KATA_PROVIDERS_URL"
    host, port = os.environ.get("KATA_PROVIDERS_HOST"), os.environ.get("KATA_PROVIDERS_PORT")
    if port:
        return f"http://{host or '127.0.0.1'}:{port}", token, "KATA_PROVIDERS_HOST/_PORT"
    found = _discovered()
    if found:
        return str(found["url"]), token or found.get("token"), "the discovery file"
    return DEFAULT_URL, token, "the default address (no discovery file found)"


def _client(url: str, token: str | None) -> httpx.Client:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=600)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"code": "unexpected_error", "message": response.text[:200], "remediation": ""}
        raise ClientError(body)
    return response.json()


def run_command(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run one client command; returns the exit code."""
    import httpx

    url, token, how = _target(args)
    if args.command == "wait":
        return _wait(args, url, token, how, out, err)
    try:
        with _client(url, token) as client:
            handler = {
                "status": _status,
                "models": _models,
                "run": _run,
                "usage": _usage,
                "keys": _keys,
                "open": _open,
            }[args.command]
            handler(client, args, out, err)
        return 0
    except ClientError as exc:
        body = exc.body
        if body.get("code") == "unauthorized":
            body = {
                **body,
                "message": f"the daemon at {url} refused the token ({how}).",
                "remediation": "Use the token from its ready line (KATA_PROVIDERS_TOKEN), or "
                "unset KATA_PROVIDERS_URL and KATA_PROVIDERS_TOKEN so the CLI finds the running "
                "daemon itself.",
            }
        _report(args, body, err)
        return 1
    except httpx.ConnectError:
        _report(args, _not_running(url, how), err)
        return EXIT_NOT_RUNNING
    except httpx.HTTPError as exc:
        body = {
            "code": "unexpected_error",
            "message": f"talking to the daemon at {url} failed ({type(exc).__name__}).",
            "remediation": "Retry; if it persists, check the daemon's log.",
        }
        _report(args, body, err)
        return 1


def _not_running(url: str, how: str) -> dict[str, Any]:
    return {
        "code": "not_running",
        "message": f"no daemon is running at {url} (found by {how}).",
        "remediation": "Start one with `make run` (or `kata-providers serve`) in another "
        "terminal; this command then finds it by itself.",
    }


def _report(args: argparse.Namespace, body: dict[str, Any], err: TextIO) -> None:
    if args.json:
        err.write(json.dumps({"error": body}) + "\n")
        return
    err.write(f"error: {body.get('code')}: {body.get('message')}\n")
    if body.get("remediation"):
        err.write(f"  what to do: {body['remediation']}\n")
    command = _action_command(body)
    if command:
        err.write(f"  run: {command}\n")


def _action_command(body: dict[str, Any]) -> str | None:
    """The command that does what an error's `action` asks, where there is one."""
    provider = body.get("provider")
    action = body.get("action")
    if action == "set_api_key" and provider:
        return f"kata-providers keys set {provider}"
    if action in ("switch_auth_mode", "choose_model"):
        return "kata-providers open   (then change it on the status page)"
    if action == "wait" and body.get("retry_after_s"):
        return f"sleep {max(1, round(body['retry_after_s']))}   (then retry)"
    return None


def _wait(
    args: argparse.Namespace, url: str, token: str | None, how: str, out: TextIO, err: TextIO
) -> int:
    """Poll until the daemon answers /v1/health with this token (a fresh daemon may still be
    starting, and the discovery file may not exist yet)."""
    import time

    import httpx

    deadline = time.monotonic() + args.timeout
    while True:
        try:
            with _client(url, token) as client:
                health = client.get("/v1/health", timeout=2)
            if health.status_code == 200:
                out.write(json.dumps(health.json()) + "\n" if args.json else f"ready at {url}\n")
                return 0
            if health.status_code == 401:
                _report(args, {"code": "unauthorized", "message": f"{url} refused the token."}, err)
                return 1
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            _report(args, _not_running(url, how), err)
            return EXIT_NOT_RUNNING
        time.sleep(0.1)
        if not (args.url or os.environ.get("KATA_PROVIDERS_URL")):
            url, token, how = _target(args)


def _status(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    listing = _check(client.get("/v1/providers"))
    if args.json:
        out.write(json.dumps(listing, indent=2) + "\n")
        return
    for p in listing["providers"]:
        mode = p["resolved_mode"] or "none"
        fallback = " (fallback)" if p["fallback_applied"] else ""
        key = p["api_key"]
        session = p["token_session"]
        out.write(
            f"{p['display_name']}: {'usable' if p['usable'] else 'NOT usable'}, "
            f"auth {mode}{fallback} (requested {p['requested_mode']}), "
            f"health {p['health']['state']}\n"
        )
        out.write(
            f"  api key: {key['state']}"
            + (f" from {key['source']} {key['hint']}" if key["source"] else "")
            + f"; new keys go to {key['store']}\n"
        )
        out.write(
            f"  token session: {session['state']}"
            + (f" ({session['source']})" if session["source"] else "")
            + "\n"
        )
        if p["last_error"]:
            out.write(
                f"  last error: {p['last_error']['message']}\n"
                f"  what to do: {p['last_error']['remediation']}\n"
            )
    out.write(f"default provider: {listing['default_provider'] or 'none'}\n")


def _models(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    params: dict[str, str] = {"refresh": "true"} if args.refresh else {}
    if args.provider:
        params["provider"] = args.provider
    answer = _check(client.get("/v1/models", params=params))
    if args.json:
        out.write(json.dumps(answer, indent=2) + "\n")
        return
    for group in answer["providers"]:
        stale = ", stale" if group["stale"] else ""
        out.write(f"{group['provider']} ({group['provenance']}{stale}):\n")
        for model in group["models"]:
            name = f"  {model['display_name']}" if model.get("display_name") else ""
            out.write(f"  {model['id']}{name}\n")
        if group.get("error"):
            err.write(f"  {group['provider']}: {group['error']['message']}\n")


def _sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield json.loads(line[5:])


def _run(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": args.prompt}],
        "stream": True,
        "max_tokens": args.max_tokens,
    }
    for name in ("provider", "model", "system"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    with client.stream("POST", "/v1/executions", json=body) as response:
        if response.status_code >= 400:
            response.read()
            _check(response)
        for event in _sse(response):
            kind = event["type"]
            if args.json:  # one JSON event per line
                out.write(json.dumps(event) + "\n")
                out.flush()
                if kind == "error":
                    raise ClientError(event["error"])
                continue
            if kind == "text_delta":
                out.write(event["text"])
                out.flush()
            elif kind == "tool_call_end":
                out.write(f"\n[tool call {event['name']} {json.dumps(event['arguments'])}]\n")
            elif kind == "retry":
                err.write(f"[retrying: {event['error']['message']}]\n")
            elif kind == "done":
                result = event["result"]
                out.write("\n")
                err.write(
                    f"[{result['provider']} {result['model']} via {result['auth_mode']}"
                    f"{' (fallback)' if result['fallback_applied'] else ''}, "
                    f"{result['usage']['input_tokens']} in / "
                    f"{result['usage']['output_tokens']} out]\n"
                )
            elif kind == "error":
                out.write("\n")
                raise ClientError(event["error"])


def _usage(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    usage_table.show(client, args, out, _check)


def _keys(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if args.action == "remove":
        status = _check(client.delete(f"/v1/providers/{args.provider}/api-key"))
        if args.json:
            out.write(json.dumps(status, indent=2) + "\n")
            return
        out.write(f"{args.provider}: api key {status['api_key']['state']}\n")
        return
    key = (
        getpass.getpass(f"{args.provider} API key: ")
        if sys.stdin.isatty()
        else sys.stdin.readline()
    )
    status = _check(
        client.put(
            f"/v1/providers/{args.provider}/api-key",
            json={"api_key": key.strip(), "verify": args.verify},
        )
    )
    if args.json:
        out.write(json.dumps(status, indent=2) + "\n")
        return
    key_state = status["api_key"]
    out.write(
        f"{args.provider}: api key {key_state['state']} {key_state['hint']} "
        f"in {key_state['source']}\n"
    )


def _open(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    link = _check(client.post("/v1/page/link"))
    if args.json:
        out.write(json.dumps(link) + "\n")
    else:
        out.write(f"{link['url']}\n")
        err.write("(the link works once, for ten minutes)\n")
    if not args.no_browser:
        import webbrowser

        webbrowser.open(link["url"])
