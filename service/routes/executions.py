"""`POST /v1/executions`: run one model request."""

from __future__ import annotations

from fastapi import APIRouter

from contracts.executions import ExecutionRequest, ExecutionResult
from service.http_errors import error_responses
from service.routes.deps import RuntimeDep

router = APIRouter(tags=["executions"])


@router.post(
    "/v1/executions",
    name="createExecution",
    summary="Run one model request",
    responses=error_responses(404, 409, 424, 429, 502, 503, 504),
)
async def create_execution(body: ExecutionRequest, runtime: RuntimeDep) -> ExecutionResult:
    return await runtime.execute(body)
