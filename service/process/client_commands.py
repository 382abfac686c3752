"""What each CLI client command does against the daemon, and how it prints the answer."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from service.usage import table as usage_table

if TYPE_CHECKING:  # httpx is imported when a client command runs, not for `serve`
    import httpx


class ClientError(Exception):
    """The daemon answered with an error body (or could not be reached)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", "error"))
        self.body = body


def check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"code": "unexpected_error", "message": response.text[:200], "remediation": ""}
        raise ClientError(body)
    return response.json()


def status(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    listing = check(client.get("/v1/providers"))
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


def models(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    params: dict[str, str] = {"refresh": "true"} if args.refresh else {}
    if args.provider:
        params["provider"] = args.provider
    answer = check(client.get("/v1/models", params=params))
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


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield json.loads(line[5:])


def run(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": args.prompt}],
        "stream": True,
        "max_tokens": args.max_tokens,
    }
    for name in ("provider", "model", "system", "route"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    with client.stream("POST", "/v1/executions", json=body) as response:
        if response.status_code >= 400:
            response.read()
            check(response)
        for event in sse_events(response):
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
            elif kind == "fallback":
                passed = event["passed_over"]
                err.write(
                    f"[{passed['provider']} passed over ({passed['code']}): going on to "
                    f"{event['provider']} {event['model']}]\n"
                )
            elif kind == "done":
                result = event["result"]
                out.write("\n")
                err.write(
                    f"[{result['provider']} {result['model']} via {result['auth_mode']}"
                    f"{' (fallback)' if result['fallback_applied'] else ''}, "
                    f"{(result['usage'] or {}).get('input_tokens', '?')} in / "
                    f"{(result['usage'] or {}).get('output_tokens', '?')} out"
                    f"{' on route ' + result['route'] if result.get('route') else ''}]\n"
                )
            elif kind == "error":
                out.write("\n")
                raise ClientError(event["error"])


def usage(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    usage_table.show(client, args, out, check)


def keys(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if args.action == "remove":
        status = check(client.delete(f"/v1/providers/{args.provider}/api-key"))
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
    status = check(
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


def open_page(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    link = check(client.post("/v1/page/link"))
    if args.json:
        out.write(json.dumps(link) + "\n")
    else:
        out.write(f"{link['url']}\n")
        err.write("(the link works once, for ten minutes)\n")
    if not args.no_browser:
        import webbrowser

        webbrowser.open(link["url"])
