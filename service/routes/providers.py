"""Provider status routes."""

from __future__ import annotations

from fastapi import APIRouter

from contracts.base import ProviderId
from contracts.providers import ProviderList, ProviderStatus
from service.routes.deps import RuntimeDep

router = APIRouter(tags=["providers"])


@router.get("/v1/providers", name="listProviders", summary="Status of every provider")
async def list_providers(runtime: RuntimeDep) -> ProviderList:
    return runtime.providers()


@router.get("/v1/providers/{provider}", name="getProvider", summary="Status of one provider")
async def get_provider(provider: ProviderId, runtime: RuntimeDep) -> ProviderStatus:
    return runtime.provider(provider)
