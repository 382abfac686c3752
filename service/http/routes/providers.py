"""Provider status, settings and API-key routes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from contracts.base import ProviderId
from contracts.endpoints import EndpointAdd
from contracts.providers import ApiKeyPut, ProviderList, ProviderSettingsUpdate, ProviderStatus
from service.http.http_errors import error_responses
from service.http.routes.deps import RuntimeDep
from service.http.strict_json import StrictJsonRoute

router = APIRouter(tags=["providers"], route_class=StrictJsonRoute)


@router.get("/v1/providers", name="listProviders", summary="Status of every provider")
async def list_providers(runtime: RuntimeDep) -> ProviderList:
    return await runtime.control.providers()


@router.post(
    "/v1/providers",
    name="addProvider",
    summary="Add a provider: a local or hosted endpoint that speaks a wire the daemon speaks",
    status_code=201,
    responses=error_responses(409, 507),
)
async def add_provider(body: EndpointAdd, runtime: RuntimeDep) -> ProviderStatus:
    await runtime.ready()
    return await runtime.added.add(body)


@router.delete(
    "/v1/providers/{provider}",
    name="removeProvider",
    summary="Remove a provider you added, and its key",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409, 507),
)
async def remove_provider(provider: ProviderId, runtime: RuntimeDep) -> Response:
    await runtime.ready()
    await runtime.added.remove(provider)
    return Response(status_code=204)


@router.get(
    "/v1/providers/{provider}",
    name="getProvider",
    summary="Status of one provider",
    responses=error_responses(404),
)
async def get_provider(provider: ProviderId, runtime: RuntimeDep) -> ProviderStatus:
    return await runtime.control.provider(provider)


@router.put(
    "/v1/providers/{provider}/settings",
    name="updateProviderSettings",
    summary="Change auth mode, API-key fallback or default model; persisted",
    responses=error_responses(404, 507),
)
async def update_provider_settings(
    provider: ProviderId, body: ProviderSettingsUpdate, runtime: RuntimeDep
) -> ProviderStatus:
    return await runtime.control.update_provider_settings(provider, body)


@router.put(
    "/v1/providers/{provider}/api-key",
    name="putApiKey",
    summary="Store an API key (write-only: only a masked hint ever comes back)",
    responses=error_responses(404, 424, 429, 503, 504, 507),
)
async def put_api_key(provider: ProviderId, body: ApiKeyPut, runtime: RuntimeDep) -> ProviderStatus:
    return await runtime.control.put_api_key(provider, body)


@router.delete(
    "/v1/providers/{provider}/api-key",
    name="deleteApiKey",
    summary="Forget the stored API key, wherever it is kept",
    responses=error_responses(404, 507),
)
async def delete_api_key(provider: ProviderId, runtime: RuntimeDep) -> ProviderStatus:
    return await runtime.control.delete_api_key(provider)


@router.post(
    "/v1/providers/{provider}/check",
    name="checkProvider",
    summary="Re-detect credentials and probe the provider with a models call",
    responses=error_responses(404),
)
async def check_provider(provider: ProviderId, runtime: RuntimeDep) -> ProviderStatus:
    return await runtime.control.check(provider)
