"""Daemon-wide settings."""

from __future__ import annotations

from fastapi import APIRouter

from contracts.settings import DaemonSettings, DaemonSettingsUpdate
from service.http.http_errors import error_responses
from service.http.routes.deps import RuntimeDep
from service.http.strict_json import StrictJsonRoute

router = APIRouter(tags=["settings"], route_class=StrictJsonRoute)


@router.get("/v1/settings", name="getSettings", summary="Daemon-wide settings")
async def get_settings(runtime: RuntimeDep) -> DaemonSettings:
    return runtime.control.daemon_settings()


@router.put(
    "/v1/settings",
    name="updateSettings",
    summary="Change daemon-wide settings; persisted",
    responses=error_responses(507),
)
async def update_settings(body: DaemonSettingsUpdate, runtime: RuntimeDep) -> DaemonSettings:
    return await runtime.control.update_daemon_settings(body)
