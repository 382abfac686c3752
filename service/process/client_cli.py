"""The human CLI client: `status`, `models`, `run`, `usage`, `keys set|remove`, `providers`,
`routes`, against a running daemon.

The daemon is found by `--url` / `KATA_PROVIDERS_URL` (or `KATA_PROVIDERS_HOST` and `_PORT`) and
`--token` / `KATA_PROVIDERS_TOKEN`, else by the discovery file the running daemon keeps in its
data folder (`KATA_PROVIDERS_HOME`). Exit codes: 0 done, 1 the daemon answered with an error,
2 bad arguments, 3 no daemon is running there.
API keys are read from standard input (or a hidden prompt), never from the command line, where
`ps` and shell history would see them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from service.process import provider_commands, route_commands
from service.process.client_commands import ClientError, keys, models, open_page, run, status, usage
from service.usage import table as usage_table

if TYPE_CHECKING:  # httpx is imported when a client command runs, not for `serve`
    import httpx

DEFAULT_URL = "http://127.0.0.1:8765"
EXIT_NOT_RUNNING = 3


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
    models.add_argument("--provider", help="a provider id (default: every provider)")
    models.add_argument("--refresh", action="store_true", help="bypass the 10-minute cache")
    run = commands.add_parser("run", parents=[common], help="run a prompt, streaming the answer")
    run.add_argument("prompt")
    run.add_argument("--provider", help="a provider id (default: the default provider)")
    run.add_argument("--model")
    run.add_argument("--route", help="a route instead of a provider and model")
    run.add_argument("--system")
    run.add_argument("--max-tokens", type=int, default=1024)
    usage = commands.add_parser(
        "usage", parents=[common], help="tokens and cost from the ledger, grouped, as a table"
    )
    usage_table.add_arguments(usage)
    keys = commands.add_parser("keys", parents=[common], help="store or remove an API key")
    keys.add_argument("action", choices=["set", "remove"])
    keys.add_argument("provider", help="a provider id: anthropic, openai, or one you added")
    keys.add_argument("--verify", action="store_true", help="probe the provider before storing")
    provider_commands.add_arguments(
        commands.add_parser(
            "providers", parents=[common], help="list, add or remove the providers you add"
        )
    )
    route_commands.add_arguments(
        commands.add_parser(
            "routes", parents=[common], help="list, set or remove routes (targets in order)"
        )
    )
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
                "status": status,
                "models": models,
                "run": run,
                "usage": usage,
                "keys": keys,
                "providers": provider_commands.providers,
                "routes": route_commands.routes,
                "open": open_page,
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
