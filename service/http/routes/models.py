"""`GET /v1/models`: every provider's models, with provenance."""

from __future__ import annotations

from fastapi import APIRouter

from contracts.base import ProviderId
from contracts.models import ModelList
from service.http.routes.deps import RuntimeDep

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models",
    name="listModels",
    summary="Models of each provider: live, cached (10 min) or the built-in catalogue",
)
async def list_models(
    runtime: RuntimeDep, provider: ProviderId | None = None, refresh: bool = False
) -> ModelList:
    return await runtime.control.models(provider, refresh)
