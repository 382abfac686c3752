"""Daemon liveness."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from contracts.base import Response


class HealthResponse(Response):
    """The daemon is up: what it is and for how long."""

    status: Literal["ok"] = "ok"
    version: str
    pid: int
    started_at: datetime
    uptime_s: float = Field(ge=0)
    demo: bool = False
