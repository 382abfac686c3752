"""The window a usage report covers: the one place its bounds are decided and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest

DEFAULT_WINDOW = timedelta(days=7)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # the ledger counts from the Unix epoch


def _refused(message: str, *fields: str) -> InvalidRequest:
    return InvalidRequest(
        message,
        "Give since and until as ISO 8601 times with since before until, e.g. "
        "since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z.",
        status=422,
        details=[
            ErrorDetail(loc=["query", name], msg=message, type="value_error") for name in fields
        ],
    )


def _aware(at: datetime, name: str) -> datetime:
    """`at` with a zone (none given: the user's local time); a time no zone can hold (year 1
    at +01:00 is year 0 in UTC) is refused, naming its field."""
    try:
        aware = at.astimezone()
        aware.astimezone(UTC)
    except (OverflowError, ValueError, OSError):
        raise _refused(f"{name} is outside the years 1 to 9999 in every time zone.", name) from None
    return aware


def usage_window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The `[since, until)` a report covers: until defaults to now, since to 7 days before
    until (or the epoch, if that is earlier than anything the ledger holds)."""
    end = now if until is None else _aware(until, "until")
    if since is not None:
        start = _aware(since, "since")
    else:
        try:
            start = max(end - DEFAULT_WINDOW, EARLIEST)
        except OverflowError:
            start = EARLIEST
    if start > end:
        raise _refused("since is after until: the window would be empty.", "since", "until")
    return start, end
