"""The wires the daemon speaks, registered once: the built-in ones (one folder each), then any
a caller of `build_runtime` adds (a test's toy wire; a plugin's). Everything that depends on a
protocol looks its wire up here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from adapters.specs import SPECS, ProviderSpec
from adapters.wire import AdapterOptions, Wire, WireFormat
from contracts.base import ProviderId
from contracts.endpoints import EndpointSpec
from contracts.error_body import ErrorDetail
from contracts.errors import InvalidRequest

if TYPE_CHECKING:
    from adapters.base import ProviderAdapter


def built_in() -> tuple[Wire, ...]:
    """The wires that ship with the daemon."""
    from adapters.anthropic.wire import WIRE as ANTHROPIC
    from adapters.openai.wire import WIRE as OPENAI

    return (OPENAI, ANTHROPIC)  # the order the page and the document list their formats


class Wires:
    """A registry of wires, by id and by the ids of their formats (each names one wire)."""

    def __init__(self, extra: Iterable[Wire] = ()) -> None:
        self.all = (*built_in(), *extra)
        self._by_id: dict[str, Wire] = {}
        self._formats: dict[str, tuple[Wire, WireFormat]] = {}
        for wire in self.all:
            if wire.id in self._by_id:
                raise ValueError(f"two wires have the id {wire.id!r}")
            self._by_id[wire.id] = wire
            for spoken in wire.formats:
                if spoken.id in self._formats:
                    raise ValueError(f"two wires speak the format {spoken.id!r}")
                self._formats[spoken.id] = (wire, spoken)

    def get(self, wire_id: str) -> Wire:
        """The wire with this id (the built-in providers name theirs)."""
        return self._by_id[wire_id]

    def of_provider(self, provider: ProviderId, endpoint: EndpointSpec | None) -> Wire:
        """The wire `provider` speaks: a built-in one's own, or the one whose format an added
        one (`endpoint`) was added with."""
        if endpoint is None:
            return self._by_id[SPECS[provider].wire]
        return self.speaking(endpoint.wire)[0]

    def built_in_adapter(
        self, spec: ProviderSpec, env: Mapping[str, str], timeout_s: float = 600.0
    ) -> ProviderAdapter:
        """A built-in provider's adapter, pointed at its SDK's own base-URL variable."""
        options = AdapterOptions(spec.id, spec.format, env.get(spec.base_url_env), timeout_s, env)
        return self._by_id[spec.wire].adapter(options)

    def added_adapter(self, endpoint: EndpointSpec, timeout_s: float) -> ProviderAdapter:
        """The adapter of a provider a user added: its wire's, given its id, base URL, headers
        and how its key travels (the same request path, error mapping and pass-through)."""
        wire, _ = self.speaking(endpoint.wire)
        options = AdapterOptions(
            endpoint.id,
            endpoint.wire.value,
            endpoint.base_url,
            timeout_s,
            headers=endpoint.headers,
            key_header=endpoint.key_header.value if endpoint.key_header else None,
            verify_tls=endpoint.verify_tls,
            built_in=False,
        )
        return wire.adapter(options)

    @property
    def format_ids(self) -> tuple[str, ...]:
        """Every format an added provider may name, in the order the wires list them."""
        return tuple(self._formats)

    def formats(self) -> list[WireFormat]:
        """Every format, in the same order."""
        return [spoken for _, spoken in self._formats.values()]

    def of_format(self, format_id: str) -> tuple[Wire, WireFormat] | None:
        """The wire that speaks `format_id`, and the format; None when no wire does."""
        return self._formats.get(format_id)

    def speaking(
        self, format_id: str, loc: tuple[str, ...] = ("body", "wire")
    ) -> tuple[Wire, WireFormat]:
        """The wire that speaks `format_id`; else a 422 naming `loc` and listing the formats."""
        found = self._formats.get(format_id)
        if found is not None:
            return found
        known = ", ".join(self._formats)
        message = f"No wire speaks {format_id[:64]!r}; the wire formats are {known}."
        raise InvalidRequest(
            message,
            "Name one of them (the status page's Add a provider form lists them).",
            status=422,
            details=[ErrorDetail(loc=list(loc), msg=message, type="unknown_wire")],
        )

    @property
    def price_files(self) -> tuple[tuple[str, str], ...]:
        """Where each wire keeps its rows of the price table."""
        return tuple(wire.prices for wire in self.all if wire.prices is not None)
