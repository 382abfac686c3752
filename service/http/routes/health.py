"""`GET /v1/health`: liveness."""

from __future__ import annotations

from fastapi import APIRouter

from contracts.health import HealthResponse
from service.http.routes.deps import RuntimeDep

router = APIRouter(tags=["daemon"])


@router.get("/v1/health", name="getHealth", summary="Liveness: version, pid and uptime")
async def get_health(runtime: RuntimeDep) -> HealthResponse:
    return runtime.health()
