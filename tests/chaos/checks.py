"""The chaos run's invariants, checked on what every side recorded: the clients' outcomes, the
fakes' log of what they served, the daemon's ledger, its samples (RSS, descriptors, CPU) and its
governor at the end. Each violation names the request markers (or times) that broke it."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.load import Daemon, Outcome

FLUSH_S = 0.25  # the ledger's write-behind window (service/usage/ledger.py)


@dataclass
class Sample:
    at: float
    pid: int
    rss_mb: float
    fds: int
    cpu_s: float


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, what: str, who: list[str] | None = None) -> None:
        shown = f" ({', '.join(who[:8])}{' ...' if len(who) > 8 else ''})" if who else ""
        self.violations.append(what + shown)


def outcomes(report: Report, records: list[Outcome]) -> None:
    """Every request ended with exactly one terminal outcome, within its deadline + 2 s."""
    hung = [r.marker for r in records if r.outcome == "hang"]
    if hung:
        report.fail(f"{len(hung)} requests outlived their deadline + 2 s", hung)
    broken = [
        f"{r.marker}:{r.outcome} {r.detail}" for r in records if r.outcome.startswith("broken")
    ]
    if broken:
        report.fail(f"{len(broken)} requests ended without an outcome", broken)
    doubled = [r.marker for r in records if r.terminals > 1 or r.after_terminal]
    if doubled:
        report.fail(f"{len(doubled)} streams sent more than one terminal event", doubled)


# Failures after which a route must have gone on (or listed every target passed over).
MOVES_ON = {
    "error:provider_unavailable",
    "error:rate_limited",
    "error:missing_auth",
    "error:invalid_auth",
    "error:session_expired",
    "error:model_not_found",
    "error:budget_exceeded",
}


def routes(report: Report, records: list[Outcome]) -> None:
    """A routed request never ends in a failure a route falls through on while a target of its
    route was left untried; never falls through after output; never repeats output."""
    routed = [r for r in records if r.route]
    moved = [r for r in routed if r.fell_through or r.passed_over]
    report.notes.append(f"routes: {len(routed)} routed requests, {len(moved)} fell through")
    gave_up = [
        f"{r.marker}:{r.outcome} passed {r.passed_over} of {r.route}"
        for r in routed
        if r.outcome in MOVES_ON and not r.output_seen and len(r.passed_over) < len(r.route)
    ]
    if gave_up:
        report.fail(f"{len(gave_up)} routed requests failed with a target left untried", gave_up)
    late = [r.marker for r in routed if r.fallback_after_output]
    if late:
        report.fail(f"{len(late)} routed streams fell through after output", late)
    repeated = [r.marker for r in records if r.text_differs]
    if repeated:
        report.fail(f"{len(repeated)} streams' answers differ from what they streamed", repeated)


def events(report: Report, ids: list[tuple[int, int, int, bool]]) -> None:
    """Each /v1/events subscriber sees increasing ids, across every resume (a resume's first
    event is a replayed one after the last it saw, or a snapshot at the newest id)."""
    last: dict[tuple[int, int], int] = {}
    bad: list[str] = []
    for subscriber, generation, event_id, resumed in ids:
        previous = last.get((subscriber, generation))
        if previous is not None and event_id < previous + (0 if resumed else 1):
            bad.append(f"sub{subscriber} gen{generation}: {event_id} after {previous}")
        last[(subscriber, generation)] = event_id
    if bad:
        report.fail(f"{len(bad)} resumed event feeds went back", bad)


def ledger(
    report: Report,
    path: Path,
    served: list[dict[str, Any]],
    records: list[Outcome],
    daemon: Daemon,
    usd_per_token: float,
) -> dict[str, Any]:
    """The ledger is whole after every kill -9, and its rows and costs match what the fakes
    served: no row for nothing, none missing (but for requests a kill cut off), no token more
    than the fakes declared, and, where every reply went out whole, exactly what they declared."""
    with sqlite3.connect(path) as db:
        [(integrity,)] = db.execute("PRAGMA integrity_check").fetchall()
        rows = db.execute(
            "SELECT id, provider, outcome, input_tokens + cache_read_tokens + cache_write_tokens,"
            " output_tokens, cost_usd, COALESCE(run, agent), started_at, ended_at FROM executions"
        ).fetchall()
    if integrity != "ok":
        report.fail(f"the ledger is torn: {integrity}")
    by_marker: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_marker[row[6] or ""].append(row)
    fake: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in served:
        if line.get("marker"):
            fake[line["marker"]].append(line)
    cut_by_kill = {
        r.marker for r in records if daemon.killed_between(r.started, r.ended + FLUSH_S + 0.5)
    }
    # A client that left mid-stream stops the daemon reading: the fake may have written its
    # whole reply (usage last) into a socket nobody reads. Those are held to "never more".
    # So does an execution cancelled because its provider was removed mid-stream.
    client_left = {r.marker: r.kind for r in records if r.outcome in ("aborted", "error:cancelled")}
    how = {r.marker: f"{r.kind}/{r.provider}/{r.outcome}" for r in records}
    missing, over, miscounted, phantom = [], [], [], []
    ledger_tokens = oracle_tokens = 0
    for marker, lines in fake.items():
        declared = [sum((line["usage"] or [0, 0])[i] for line in lines) for i in (0, 1)]
        counted = [sum(row[i] for row in by_marker.get(marker, [])) for i in (3, 4)]
        if marker in cut_by_kill:
            continue
        if not by_marker.get(marker):
            missing.append(marker)
            continue
        ledger_tokens += sum(counted)
        oracle_tokens += sum(declared)
        if counted[0] > declared[0] or counted[1] > declared[1]:
            over.append(f"{marker}:{counted}>{declared}")
        elif (
            all(line["complete"] for line in lines)
            and marker not in client_left
            and counted != declared
        ):
            miscounted.append(f"{marker} {how.get(marker)}:{counted}!={declared}")
    for marker, marker_rows in by_marker.items():
        if marker not in fake and any(row[3] or row[4] for row in marker_rows):
            phantom.append(marker)
    if missing:
        report.fail(f"{len(missing)} requests reached the fakes but have no ledger row", missing)
    if over:
        report.fail(f"{len(over)} ledger rows count more tokens than the fakes sent", over)
    if miscounted:
        report.fail(f"{len(miscounted)} ledger rows differ from whole replies", miscounted)
    if phantom:
        report.fail(f"{len(phantom)} ledger rows with tokens never served", phantom)
    ledger_cost = sum(
        row[5] or 0.0 for marker, rs in by_marker.items() if marker not in cut_by_kill for row in rs
    )
    oracle_cost = oracle_tokens * usd_per_token
    # Cut streams may declare tokens the daemon never read (a reset drops what was in flight):
    # the ledger may be lower, never higher, and then only by what those cuts declared.
    if ledger_cost > oracle_cost + 0.005:
        report.fail(f"ledger cost ${ledger_cost:.2f} is above the fakes' ${oracle_cost:.2f}")
    return {
        "rows": len(rows),
        "integrity": integrity,
        "ledger_cost_usd": round(ledger_cost, 2),
        "fakes_cost_usd": round(oracle_cost, 2),
        "ledger_tokens": ledger_tokens,
        "fakes_tokens": oracle_tokens,
        "excused_by_kill": len(cut_by_kill),
    }


def budgets(report: Report, path: Path, episodes: list[dict[str, Any]]) -> None:
    """Once a budget is crossed, no execution starts upstream until it is raised: the overshoot
    is at most what was already in flight."""
    with sqlite3.connect(path) as db:
        for episode in episodes:
            rows = db.execute(
                "SELECT id, started_at, ended_at, cost_usd FROM executions WHERE provider = ? AND"
                " ended_at >= ? AND started_at < ? AND cost_usd > 0 ORDER BY ended_at",
                (episode["provider"], episode["set_at"], episode["raised_at"]),
            ).fetchall()
            spent, crossed_at = episode["spent"], None
            for _, _, ended_at, cost in rows:
                spent += cost
                if spent >= episode["budget"]:
                    crossed_at = ended_at
                    break
            if crossed_at is None:
                continue
            late = [r[0] for r in rows if r[1] > crossed_at + 0.1 and r[1] < episode["raised_at"]]
            if late:
                report.fail(f"{len(late)} executions started after a budget was crossed", late)


def flat(report: Report, samples: list[Sample], window_s: float) -> dict[str, Any]:
    """RSS and descriptors stay flat after the first minute of each daemon's life; CPU per
    execution at the end within 10 % of the start."""
    lives: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.rss_mb:  # 0: the process had already ended
            lives[sample.pid].append(sample)
    longest = max(lives.values(), key=lambda s: s[-1].at - s[0].at, default=[])
    if not longest or longest[-1].at - longest[0].at < 2 * window_s:
        report.notes.append("memory: no daemon life long enough to judge flatness")
        return {}
    settled = next(s for s in longest if s.at - longest[0].at >= window_s)
    last = longest[-1]
    growth = {"rss_mb": round(last.rss_mb - settled.rss_mb, 1), "fds": last.fds - settled.fds}
    if growth["rss_mb"] > 10:
        report.fail(f"RSS grew {growth['rss_mb']} MB after the first window")
    if growth["fds"] > 16:
        report.fail(f"open descriptors grew by {growth['fds']} after the first window")
    return {"rss_mb": last.rss_mb, "fds": last.fds, "growth": growth}


def rates(
    report: Report, records: list[Outcome], samples: list[Sample], start: float, end: float
) -> dict[str, Any]:
    """Requests served per second and daemon CPU per request, first window against last."""
    window = min(60.0, (end - start) / 4)
    first = (start + 2, start + 2 + window)
    last = (end - window, end)

    def served(span: tuple[float, float]) -> int:
        return sum(1 for r in records if span[0] <= r.ended < span[1] and r.outcome != "killed")

    def cpu(span: tuple[float, float]) -> float | None:
        inside = [s for s in samples if span[0] <= s.at <= span[1]]
        if len(inside) < 2 or inside[0].pid != inside[-1].pid:
            return None
        return inside[-1].cpu_s - inside[0].cpu_s

    rate_first, rate_last = served(first) / window, served(last) / window
    # Waves end with their slowest request, so the rate varies second to second: a drop counts
    # when it is past 20 % and past the noise (three standard errors of the difference of the
    # windows' means; a collapse like issue 26's, 31 to 2 a second, is far past both).
    spread = _noise(first[0], last[1], window, served)
    if rate_first and rate_last < 0.8 * rate_first and rate_first - rate_last > 3 * spread:
        report.fail(
            f"served {rate_last:.1f}/s in the last window, {rate_first:.1f}/s in the first"
            f" (noise ±{spread:.1f}/s)"
        )
    cpu_first, cpu_last = cpu(first), cpu(last)
    per = {}
    if cpu_first is not None and cpu_last is not None and served(first) and served(last):
        per = {
            "first": cpu_first / served(first) * 1000,
            "last": cpu_last / served(last) * 1000,
        }
        grew = f"CPU per request grew: {per['first']:.2f} -> {per['last']:.2f} ms"
        if per["last"] > per["first"] * 1.10:
            # Judged over minute-long windows, as the issue states it. The 15 s windows of a
            # 60 s run, one of them in a daemon life a kill just began, swing past 10 % and
            # 20 % alike (4.19 -> 5.41 ms in one `make test` run): there it is only reported.
            if window >= 60.0:
                report.fail(grew)
            else:
                report.notes.append(grew + f" (not judged over {window:.0f} s windows)")

    def mix(span: tuple[float, float]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in records:
            if span[0] <= r.ended < span[1]:
                key = f"{r.kind}/{r.provider}/{r.outcome}"
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    return {
        "outcomes": {"first": mix(first), "last": mix(last)},
        "noise_per_s": round(spread, 1),
        "window_s": round(window, 1),
        "served_per_s": [round(rate_first, 1), round(rate_last, 1)],
        "cpu_ms_per_request": {k: round(v, 2) for k, v in per.items()},
    }


def _noise(start: float, end: float, window: float, served: Any) -> float:
    """The standard error of the difference of two windows' mean rates, from the spread of
    5 s buckets over the whole run (a stalled wave holds many seconds down at once, so 1 s
    buckets within a window understate it)."""
    import statistics

    buckets = [served((at, at + 5.0)) / 5.0 for at in range_of(start, end, 5.0)]
    if len(buckets) < 3:
        return 0.0
    return float(statistics.stdev(buckets) * (2 / max(1.0, window / 5.0)) ** 0.5)


def range_of(start: float, end: float, step: float = 1.0) -> list[float]:
    return [start + i * step for i in range(int((end - start) // step))]


def stranded(report: Report, governors: list[dict[str, Any]], start: float) -> None:
    """Checked every second during the run: nobody waits for a slot while one is free and no
    pause holds (two samples in a row: the first may catch the instant the limit grows)."""
    seen: dict[str, float] = {}
    found: list[str] = []
    for sample in governors:
        for provider in ("anthropic", "openai"):
            state = sample.get(provider)
            if state is None:
                continue
            waiting = (
                state["queued"] > 0
                and state["in_flight"] < state["effective_limit"]
                and state["paused_until"] is None
            )
            if not waiting:
                seen.pop(provider, None)
            elif provider in seen:
                found.append(f"{provider} at {sample['at'] - start:.0f} s: {state}")
            else:
                seen[provider] = sample["at"]
    if found:
        report.fail(f"{len(found)} samples of waiters stranded with a slot free", found)


def timeline(
    records: list[Outcome], governors: list[dict[str, Any]], start: float, end: float
) -> list[dict[str, Any]]:
    """Every 10 s: requests served per second, the governors' mean effective limit, the most
    that waited (what to read when the rate drops)."""
    rows = []
    at = start
    while at < end:
        span = [g for g in governors if at <= g["at"] < at + 10]
        served = sum(1 for r in records if at <= r.ended < at + 10 and r.outcome != "killed")
        limits = [
            round(sum(g[p]["effective_limit"] for g in span) / len(span), 1) if span else None
            for p in ("anthropic", "openai")
        ]
        queued = [
            max((g[p]["queued"] for g in span), default=None) for p in ("anthropic", "openai")
        ]
        rows.append(
            {
                "from_s": round(at - start),
                "served_per_s": served / 10,
                "limits": limits,
                "queued": queued,
            }
        )
        at += 10
    return rows
