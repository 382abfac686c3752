"""Daemon liveness."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from contracts.base import Response
from contracts.error_body import ErrorBody


class HealthResponse(Response):
    """The daemon is up: what it is and for how long."""

    status: Literal["ok"] = "ok"
    version: str
    pid: int
    started_at: datetime
    uptime_s: float = Field(ge=0)
    demo: bool = False
    warm: bool = Field(
        default=False,
        description="What requests need is loaded: no request will wait on an import.",
    )
    problems: list[ErrorBody] = Field(
        default_factory=list,
        description="Problems found since start, e.g. a damaged state file kept aside.",
    )
