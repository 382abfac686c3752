"""`kata-providers usage`: the daemon's usage report as a table (or its JSON)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import httpx

HEAD = ("", "runs", "failed", "input", "cached", "output", "total", "cost (USD)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `usage` command's own options."""
    parser.add_argument(
        "--by",
        choices=["provider", "model", "agent", "day"],
        default="provider",
        help="group the totals (default: provider)",
    )
    parser.add_argument("--days", type=int, default=7, help="the last N days (default 7)")
    parser.add_argument(
        "--since", type=_iso, help="from this local time (ISO 8601), instead of --days"
    )
    parser.add_argument("--until", type=_iso, help="up to this local time (ISO 8601; default now)")


def _iso(value: str) -> str:
    # Checked here, so a bad time is a usage error (exit 2) like any other bad argument.
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-11-28T09:00"
        ) from None
    return value


def params(args: argparse.Namespace) -> dict[str, str]:
    """The query for `GET /v1/usage`."""
    query = {"group_by": args.by}
    until = args.until
    since = args.since
    if since is None:
        end = datetime.fromisoformat(until) if until else datetime.now().astimezone()
        since = (end - timedelta(days=args.days)).isoformat(timespec="seconds")
    query["since"] = since
    if until:
        query["until"] = until
    return query


def render(report: dict[str, Any], budgets: list[dict[str, Any]], out: TextIO) -> None:
    """The report as an aligned table, then each provider's budget for today."""
    rows: list[tuple[str, ...]] = [HEAD]
    for group in report["groups"]:
        rows.append(_row(group["key"] or "(untagged)", group))
    rows.append(_row("total", report["totals"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEAD))]
    since, until = report["since"][:16].replace("T", " "), report["until"][:16].replace("T", " ")
    out.write(f"usage by {report['group_by']}, {since} to {until}\n")
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.write("  ".join(cells).rstrip() + "\n")
        if number == 0 or number == len(rows) - 2:
            out.write("  ".join("-" * w for w in widths) + "\n")
    unpriced = report["totals"]["unpriced"]
    if unpriced:
        out.write(
            f"{unpriced} run(s) had no price (- or *: cost unknown or partial); set one with "
            'PUT /v1/settings {"prices": {"<model>": {...}}}\n'
        )
    for status in budgets:
        budget = status["budget"]
        if budget["daily_budget_usd"] is not None:
            out.write(
                f"{status['display_name']} today: ${budget['spent_today_usd']:.4f} of "
                f"${budget['daily_budget_usd']:.2f}"
                + (" (spent: executions are refused)" if budget["exceeded"] else "")
                + "\n"
            )


def _row(name: str, totals: dict[str, Any]) -> tuple[str, ...]:
    cached = totals["cache_read_tokens"] + totals["cache_write_tokens"]
    return (
        name,
        f"{totals['executions']:,}",
        f"{totals['failed'] + totals['cancelled']:,}",
        f"{totals['input_tokens']:,}",
        f"{cached:,}",
        f"{totals['output_tokens']:,}",
        f"{totals['total_tokens']:,}",
        _cost(totals),
    )


def _cost(totals: dict[str, Any]) -> str:
    # No price for any of them: no cost to show, rather than a misleading zero.
    if totals["executions"] and totals["unpriced"] == totals["executions"]:
        return "-"
    return f"{totals['cost_usd']:.4f}" + ("*" if totals["unpriced"] else "")


def show(client: httpx.Client, args: argparse.Namespace, out: TextIO, check: Any) -> None:
    """Run the command: fetch and print."""
    report = check(client.get("/v1/usage", params=params(args)))
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
        return
    providers = check(client.get("/v1/providers"))["providers"]
    render(report, providers, out)
