"""The ledger: one SQLite row per finished execution (never prompt or answer text), in the data
folder. WAL, schema-versioned with migrations (`PRAGMA user_version`), and every statement on
one thread of its own, so the event loop never waits on the disk. Rows are queued as executions
end and written in batches; a read first writes what is queued, so it sees every row."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from adapters.private_files import set_aside
from contracts.base import ProviderId
from contracts.executions import ExecutionState
from contracts.usage import ExecutionPage, ExecutionRecord, UsageGroup, UsageGroupBy, UsageTotals
from service.usage.ledger_rows import (
    COLUMNS,
    GROUP_COLUMN,
    INSERT_BATCH,
    MIGRATIONS,
    SUMS,
    decode_cursor,
    encode_cursor,
    epoch,
    record_of,
    row_of,
    totals_of,
)

log = logging.getLogger("kata.ledger")

FILE_NAME = "ledger.sqlite3"
FLUSH_S = 0.25
T = TypeVar("T")


class Ledger:
    """Owns the database file; its connection lives on its own thread."""

    def __init__(
        self, data_dir: Path, retention_days: Callable[[], int], enabled: bool = True
    ) -> None:
        self.enabled = enabled
        self.path = data_dir / FILE_NAME
        self._retention_days = retention_days
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[Any, ...]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.problem: str | None = None
        self._purged_on: date | None = None

    async def open(self) -> None:
        """Open (or create, or migrate) the database and purge expired rows. A disabled ledger
        (`--no-ledger`) is an empty database in memory that nothing is written to."""
        await self._call(self._open if self.enabled else self._open_empty)

    async def close(self) -> None:
        """Write what is queued and close."""
        if self._flushing is not None:
            self._flushing.cancel()
        with contextlib.suppress(Exception):
            await self.flush()
        with contextlib.suppress(Exception):
            await self._call(self._close)
        self._thread.shutdown(wait=True)

    def record(self, record: ExecutionRecord) -> None:
        """Queue a finished execution's row; written off the event loop, soon after."""
        if not self.enabled:
            return
        self._pending.append(row_of(record))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush_soon())

    async def flush(self) -> None:
        """Write every queued row now."""
        while self._pending:
            rows, self._pending = self._pending, []
            await self._call(self._write, rows)

    async def page(
        self,
        limit: int,
        cursor: str | None = None,
        provider: ProviderId | None = None,
        agent: str | None = None,
        outcome: ExecutionState | None = None,
    ) -> ExecutionPage:
        """Finished executions, newest first."""
        where: list[str] = []
        args: list[object] = []
        if cursor is not None:
            ended, execution_id = decode_cursor(cursor)
            where.append("(ended_at < ? OR (ended_at = ? AND id < ?))")
            args += [ended, ended, execution_id]
        filters = (
            ("provider", provider.value if provider else None),
            ("agent", agent),
            ("outcome", outcome.value if outcome else None),
        )
        for column, value in filters:
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {COLUMNS} FROM executions"  # noqa: S608 - fixed column names only
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ended_at DESC, id DESC LIMIT ?"
        args.append(limit + 1)
        await self.flush()
        rows = await self._call(self._select, sql, args)
        more = len(rows) > limit
        rows = rows[:limit]
        return ExecutionPage(
            executions=[record_of(row) for row in rows],
            next_cursor=encode_cursor(rows[-1]["ended_at"], rows[-1]["id"]) if more else None,
        )

    async def usage(
        self, since: datetime, until: datetime, group_by: UsageGroupBy
    ) -> tuple[UsageTotals, list[UsageGroup]]:
        """Totals over executions that ended in [since, until), and per group."""
        column = GROUP_COLUMN[group_by]
        window = "WHERE ended_at >= ? AND ended_at < ?"
        args = [epoch(since), epoch(until)]
        await self.flush()
        total = await self._call(
            self._select,
            f"SELECT {SUMS} FROM executions {window}",  # noqa: S608 - fixed text only
            args,
        )
        groups = await self._call(
            self._select,
            f"SELECT {column} AS key, {SUMS} FROM executions {window} "  # noqa: S608
            f"GROUP BY {column} ORDER BY SUM(COALESCE(cost_usd, 0)) DESC, COUNT(*) DESC",
            args,
        )
        return (
            UsageTotals(**totals_of(tuple(total[0]))),
            [UsageGroup(key=row[0], **totals_of(tuple(row)[1:])) for row in groups],
        )

    async def spent_since(self, since: datetime) -> dict[ProviderId, float]:
        """Cost per provider of executions that ended since `since` (today's, for budgets)."""
        await self.flush()
        rows = await self._call(
            self._select,
            "SELECT provider, SUM(COALESCE(cost_usd, 0)) FROM executions "
            "WHERE ended_at >= ? GROUP BY provider",
            [epoch(since)],
        )
        return {ProviderId(row[0]): float(row[1] or 0.0) for row in rows}

    # On the ledger's thread.

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _flush_soon(self) -> None:
        # Rows that end within FLUSH_S go in one transaction: under load, one hand-off to the
        # ledger's thread per batch, not per execution (measured: ~0.2 ms of CPU a request
        # less at 16 concurrent). A read or shutdown writes what is queued first.
        await asyncio.sleep(FLUSH_S)
        try:
            await self.flush()
        except Exception:
            log.exception("the ledger could not be written")

    def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            aside = set_aside(self.path)
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            kept = f"kept as {aside.name}" if aside else "it could not be moved aside"
            self.problem = f"The ledger {self.path} was unreadable ({exc}); {kept}."
            log.error("ledger unreadable; starting a new one", extra={"aside": str(aside)})
            self._db = self._connect()
        self._purge()

    def _open_empty(self) -> None:
        self._db = self._connect(":memory:")

    def _connect(self, where: Path | str | None = None) -> sqlite3.Connection:
        db = sqlite3.connect(where or self.path, check_same_thread=False, isolation_level=None)
        try:
            if where is None:
                self.path.chmod(0o600)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this daemon's {len(MIGRATIONS)}"
                )
            for number in range(version, len(MIGRATIONS)):
                # One transaction per step: a step either lands whole with its version or not.
                db.executescript(
                    f"BEGIN; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
                )
        except Exception:
            db.close()
            raise
        return db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._db is not None
        # The whole batch as one JSON parameter and one statement: SQLite runs it with the
        # GIL released throughout, where `executemany` takes the GIL back for every row and
        # so interrupts the event loop's thread once a row (measured: most of the ledger's
        # cost to the daemon).
        with self._db:
            self._db.execute(INSERT_BATCH, (json.dumps(rows),))
        if self._purged_on != date.today():
            self._purge()

    def _select(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        assert self._db is not None
        return self._db.execute(sql, args).fetchall()

    def _purge(self) -> None:
        assert self._db is not None
        cutoff = datetime.now(UTC) - timedelta(days=self._retention_days())
        with self._db:
            self._db.execute("DELETE FROM executions WHERE ended_at < ?", (epoch(cutoff),))
        self._purged_on = date.today()
