"""How a settings update is read: what it changes (a field left out keeps its value; some may
be cleared with null), and the bounds and references a change must keep."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest, bound_reached
from contracts.settings import MAX_PRICES


def changes_of(update: BaseModel, clearable: set[str]) -> dict[str, object]:
    """The fields a partial update sets. `null` clears a clearable field and leaves any other
    unchanged (a mode or a flag has no 'unset')."""
    return {
        name: value
        for name, value in update.model_dump(include=update.model_fields_set).items()
        if value is not None or name in clearable
    }


def within_price_bound(count: int) -> None:
    """The bound is on what is stored, not on one request: merges add up."""
    if count > MAX_PRICES:
        raise bound_reached(
            f"At most {MAX_PRICES} prices are kept; this change would keep {count}.",
            "Remove prices you no longer need (set them to null), then add the new ones.",
            "prices",
        )


def routes_known(mapped: dict[str, str | None], routes: Mapping[str, object]) -> dict[str, str]:
    """The agent-to-route map as kept (a tag set to null loses its route); a route no route
    has is refused, naming the tag."""
    for agent, name in mapped.items():
        if name is not None and name not in routes:
            message = f"There is no route {name!r} for agent {agent[:64]!r}."
            raise InvalidRequest(
                message,
                "Make the route first (`kata-providers routes set`), or name one that exists.",
                status=422,
                details=[
                    ErrorDetail(
                        loc=["body", "agent_routes", agent], msg=message, type="unknown_route"
                    )
                ],
            )
    return {agent: name for agent, name in mapped.items() if name is not None}
