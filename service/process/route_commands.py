"""`kata-providers routes list|set|remove|plan`: the routes an agent names instead of a
provider (issue 37), from the command line. A target is `provider` or `provider:model`, tried
in the order given; `plan` says where the route's next request would go now, and why."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any, TextIO

from service.process.client_commands import check

if TYPE_CHECKING:
    import httpx


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`routes` and its actions."""
    parser.add_argument("action", choices=["list", "set", "remove", "plan"])
    parser.add_argument("name", nargs="?", help="the route's name (set, remove, plan)")
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET", help="provider or provider:model, in order (set)"
    )
    parser.add_argument("--description", help="what the route is for (set)")


def _target(text: str) -> dict[str, Any]:
    provider, _, model = text.partition(":")
    return {"provider": provider, "model": model or None}


def _line(route: dict[str, Any]) -> str:
    targets = ", then ".join(
        t["provider"] + (f" ({t['model']})" if t.get("model") else "") for t in route["targets"]
    )
    about = f" - {route['description']}" if route.get("description") else ""
    return f"{route['name']}: {targets}{about}\n"


def plan_text(plan: dict[str, Any]) -> str:
    lines = []
    for n, target in enumerate(plan["targets"]):
        name = target["provider"] + (f" ({target['model']})" if target.get("model") else "")
        if target["serves_now"]:
            mark = "serves" if n == plan["serves"] else "ready"
            lines.append(f"  {n + 1}. {name}: {mark}")
            continue
        after = target.get("retry_after_s")
        wait = f", for {math.ceil(after)} s" if after else ""
        why = f"{target['code']}{wait}"
        lines.append(f"  {n + 1}. {name}: passed over ({why}): {target['message']}")
    head = "no target would serve now" if plan["serves"] is None else "next request goes to"
    return f"{plan['name']}: {head}\n" + "\n".join(lines) + "\n"


def routes(client: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if args.action == "list":
        listing = check(client.get("/v1/routes"))
        if args.json:
            out.write(json.dumps(listing, indent=2) + "\n")
            return
        for route in listing["routes"]:
            out.write(_line(route))
        if not listing["routes"]:
            out.write("no routes (make one: kata-providers routes set NAME PROVIDER[:MODEL]...)\n")
        return
    if not args.name:
        raise SystemExit(f"kata-providers routes {args.action}: name the route")
    if args.action == "plan":
        plan = check(client.get(f"/v1/routes/{args.name}/plan"))
        out.write(json.dumps(plan, indent=2) + "\n" if args.json else plan_text(plan))
        return
    if args.action == "remove":
        response = client.delete(f"/v1/routes/{args.name}")
        if response.status_code >= 400:
            check(response)
        out.write(f"{args.name}: removed\n")
        return
    if not args.targets:
        raise SystemExit(
            "kata-providers routes set: give its targets, e.g. anthropic openai:gpt-5.4"
        )
    body: dict[str, Any] = {"targets": [_target(t) for t in args.targets]}
    if args.description:
        body["description"] = args.description
    route = check(client.put(f"/v1/routes/{args.name}", json=body))
    out.write(json.dumps(route, indent=2) + "\n" if args.json else _line(route))
