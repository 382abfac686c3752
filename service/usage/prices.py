"""What tokens cost: the shipped price table (each wire's `prices.json` in its folder, each price
with its source and date) under the user's own prices from settings. Cost is computed from the
provider's own counts and the model the provider says it ran."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from contracts.executions import CostSource, Usage
from contracts.usage import Price

# Dated snapshots (claude-sonnet-4-20250514, gpt-5.4-2026-03-05) are priced as their alias.
_SNAPSHOT = re.compile(r"^(?P<alias>.+?)-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class TablePrice:
    """One row of the shipped table."""

    price: Price
    as_of: str
    source: str


# Where the price rows are: (package, file) of each wire's table.
PriceFiles = tuple[tuple[str, str], ...]


def built_in_files() -> PriceFiles:
    """The built-in wires' tables."""
    from adapters.wires import built_in

    return tuple(wire.prices for wire in built_in() if wire.prices is not None)


@functools.cache
def table(files: PriceFiles | None = None) -> dict[str, TablePrice]:
    """The shipped table (the built-in wires' rows unless `files` says), read once."""
    rows: dict[str, TablePrice] = {}
    for package, name in built_in_files() if files is None else files:
        raw = json.loads(resources.files(package).joinpath(name).read_text("utf-8"))
        rows.update(
            {
                model: TablePrice(
                    Price(
                        input_usd_per_mtok=row["input"],
                        output_usd_per_mtok=row["output"],
                        cache_read_usd_per_mtok=row["cache_read"],
                        cache_write_usd_per_mtok=row["cache_write"],
                    ),
                    row["as_of"],
                    row["source"],
                )
                for model, row in raw["prices"].items()
            }
        )
    return rows


def price_for(
    model: str, overrides: Mapping[str, Price], files: PriceFiles | None = None
) -> tuple[Price, CostSource] | None:
    """The price of `model`: the user's (exact id or its alias), else the table's."""
    names = [model]
    snapshot = _SNAPSHOT.match(model)
    if snapshot:
        names.append(snapshot["alias"])
    for name in names:
        if name in overrides:
            return overrides[name], CostSource.SETTINGS
    rows = table(files)
    for name in names:
        if name in rows:
            return rows[name].price, CostSource.TABLE
    return None


def priced(
    usage: Usage, model: str, overrides: Mapping[str, Price], files: PriceFiles | None = None
) -> Usage:
    """`usage` with its cost (null, with no source, when the model has no price)."""
    found = price_for(model, overrides, files)
    if found is None:
        return usage.model_copy(update={"cost_usd": None, "cost_source": None})
    price, source = found
    return usage.model_copy(update={"cost_usd": cost(usage, price), "cost_source": source})


def cost(usage: Usage, price: Price) -> float:
    """USD for the tokens (rounded to 1e-8 dollars, well under any provider's billing unit)."""
    read = price.cache_read_usd_per_mtok
    write = price.cache_write_usd_per_mtok
    micro = (
        usage.input_tokens * price.input_usd_per_mtok
        + usage.output_tokens * price.output_usd_per_mtok
        + usage.cache_read_tokens * (price.input_usd_per_mtok if read is None else read)
        + usage.cache_write_tokens * (price.input_usd_per_mtok if write is None else write)
    )
    return round(micro / 1_000_000, 8)


def with_earlier(current: Usage, earlier: list[Usage]) -> Usage:
    """An execution's whole usage: the serving target's, priced, with what the targets a route
    passed over used, each priced at its own model. The cost is null when any part that used
    tokens has no price; the source is the serving target's."""
    total = current
    cost_usd = current.cost_usd
    for part in earlier:
        total = plus(total, part)
        if part.total_tokens and part.cost_usd is None:
            cost_usd = None
        elif cost_usd is not None and part.cost_usd is not None:
            cost_usd = round(cost_usd + part.cost_usd, 8)
    return total.model_copy(update={"cost_usd": cost_usd, "cost_source": current.cost_source})


def plus(a: Usage, b: Usage) -> Usage:
    """Two attempts' token counts together (cost is priced once, at the end)."""
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_read_tokens=a.cache_read_tokens + b.cache_read_tokens,
        cache_write_tokens=a.cache_write_tokens + b.cache_write_tokens,
        reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
    )
