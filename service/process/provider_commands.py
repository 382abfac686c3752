"""`kata-providers providers list|add|remove`: the providers a user adds (issue 29), from the
command line. A key is read from the terminal without echo (or from stdin), never from an
argument, where the shell's history and `ps` would keep it."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from service.process.client_commands import check

if TYPE_CHECKING:
    import httpx


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`providers` and its actions."""
    parser.add_argument("action", choices=["list", "add", "remove"])
    parser.add_argument("id", nargs="?", help="the provider's id (add, remove)")
    parser.add_argument(
        "--wire",
        default="openai-chat",
        help="the wire format it speaks: openai-chat (default), openai-responses, "
        "anthropic-messages, or another a wire of the daemon's offers (the daemon judges it)",
    )
    parser.add_argument("--base-url", help="e.g. http://127.0.0.1:11434/v1 for Ollama")
    parser.add_argument("--name", help="display name (default: the id)")
    parser.add_argument(
        "--no-auth", action="store_true", help="the endpoint takes no key (a local server)"
    )
    parser.add_argument("--key-header", choices=["authorization", "api-key", "x-api-key"])
    parser.add_argument("--default-model")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="repeatable"
    )
    parser.add_argument("--allow-insecure", action="store_true", help="plain http off-machine")
    parser.add_argument(
        "--no-verify-tls", action="store_true", help="accept any certificate (self-signed)"
    )
    parser.add_argument(
        "--with-key", action="store_true", help="read its API key (no echo, or from stdin)"
    )


def providers(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if args.action == "list":
        listing = check(client.get("/v1/providers"))
        if args.json:
            out.write(json.dumps(listing, indent=2) + "\n")
            return
        for p in listing["providers"]:
            where = p["endpoint"]["spec"]["base_url"] if p["endpoint"] else "built in"
            out.write(f"{p['id']}: {p['display_name']} ({where})\n")
        return
    if not args.id:
        raise SystemExit(f"kata-providers providers {args.action}: name the provider's id")
    if args.action == "remove":
        response = client.delete(f"/v1/providers/{args.id}")
        if response.status_code >= 400:
            check(response)
        out.write(f"{args.id}: removed, with its key\n")
        return
    status = check(client.post("/v1/providers", json=_body(args)))
    if args.json:
        out.write(json.dumps(status, indent=2) + "\n")
        return
    out.write(
        f"{status['id']}: added ({status['endpoint']['scope']}), "
        f"{'usable' if status['usable'] else 'NOT usable'}, api key {status['api_key']['state']}\n"
    )


def _body(args: argparse.Namespace) -> dict[str, Any]:
    if not args.base_url:
        raise SystemExit("kata-providers providers add: --base-url is required")
    headers: dict[str, str] = {}
    for pair in args.header:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--header {pair!r}: write it as NAME=VALUE")
        headers[name.strip()] = value.strip()
    body: dict[str, Any] = {
        "id": args.id,
        "display_name": args.name or args.id,
        "wire": args.wire,
        "base_url": args.base_url,
        "auth": "none" if args.no_auth else "api_key",
        "headers": headers,
        "allow_insecure": args.allow_insecure,
        "verify_tls": not args.no_verify_tls,
    }
    if args.key_header:
        body["key_header"] = args.key_header
    if args.default_model:
        body["default_model"] = args.default_model
    if args.with_key:
        prompt = f"{args.id} API key: "
        body["api_key"] = (
            getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()
        ).strip()
    return body
