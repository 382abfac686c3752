"""`settings.json`: user settings that survive a restart, schema-versioned, written atomically.

A file that cannot be read, or has a schema version this daemon does not know, is kept aside as
`settings.json.corrupt-<time>` (0600) and defaults are used; the caller is told so it can log and
publish the problem. Nothing is lost silently, and nothing stops the daemon from starting.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.private_files import damaged, set_aside, write_private_json
from contracts.base import BUILT_IN, ProviderId
from contracts.endpoints import EndpointSpec
from contracts.errors import InvalidRequest, ProviderError
from contracts.providers import ProviderSettings
from contracts.routes import MAX_ROUTES, Route
from contracts.settings import DaemonSettings
from service.providers.base_urls import check_base_url

log = logging.getLogger("kata.settings")

FILE_NAME = "settings.json"
SCHEMA_VERSION = 1


class PersistedSettings(BaseModel):
    """The file's shape. Unknown fields are kept out so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    providers: dict[ProviderId, ProviderSettings] = Field(
        default_factory=lambda: {provider: ProviderSettings() for provider in BUILT_IN}
    )
    # The providers a user added (`service.providers.endpoint_list`), by id.
    endpoints: dict[ProviderId, EndpointSpec] = Field(default_factory=dict, max_length=64)
    # The routes (`service.executions.route_book`), by name, in the order they were made.
    routes: dict[str, Route] = Field(default_factory=dict, max_length=MAX_ROUTES)

    @model_validator(mode="after")
    def _endpoints_as_added(self) -> PersistedSettings:
        """What `POST /v1/providers` would have refused is refused from the file too (a hand
        edit): an id that is not its key or is a built-in one's, a base URL the rules refuse."""
        for provider, spec in self.endpoints.items():
            if spec.id != provider:
                raise ValueError(f"endpoint {provider!r} is stored as {spec.id!r}")
            if provider in BUILT_IN:
                raise ValueError(f"endpoint {provider!r} has a built-in provider's id")
            try:
                check_base_url(spec.base_url, allow_insecure=spec.allow_insecure)
            except InvalidRequest as refused:
                raise ValueError(f"endpoint {provider!r}: {refused.message}") from None
        return self

    def provider(self, provider: ProviderId) -> ProviderSettings:
        """One provider's settings (defaults when the file had none)."""
        return self.providers.get(provider) or ProviderSettings()


class LiveSettings:
    """The settings in force: the one object the provider book, the meter and the key store
    read, so none needs another to reach them. Loading the file swaps its contents in whole."""

    def __init__(self) -> None:
        self.value = PersistedSettings()


class SettingsStore:
    """Loads once, saves on every change."""

    def __init__(self, data_dir: Path, formats: tuple[str, ...] = ()) -> None:
        self.path = data_dir / FILE_NAME
        self._formats = formats  # the wire formats an added provider may speak (all, if none)

    def load(self) -> tuple[PersistedSettings, ProviderError | None]:
        """The saved settings, or defaults and the reason the file could not be used (the file
        is then kept aside). Never raises: a damaged file must not stop the daemon."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return PersistedSettings(), None
        except OSError as exc:
            return PersistedSettings(), self._problem(f"cannot be read ({exc.strerror})")
        try:
            data = json.loads(raw)
            version = data.get("schema_version", SCHEMA_VERSION) if isinstance(data, dict) else 0
            if version != SCHEMA_VERSION or isinstance(version, bool):
                raise ValueError(f"has schema_version {version!r}, which this daemon does not know")
            settings = PersistedSettings.model_validate(data)
            for provider, spec in settings.endpoints.items():
                if self._formats and spec.wire not in self._formats:
                    raise ValueError(f"names a wire no wire speaks for {provider!r}: {spec.wire}")
            return settings, None
        except (ValueError, ValidationError, TypeError) as exc:
            reason = "does not match the schema" if isinstance(exc, ValidationError) else str(exc)
            if isinstance(exc, json.JSONDecodeError):
                reason = "is not valid JSON"
            return PersistedSettings(), self._problem(reason)

    def save(self, settings: PersistedSettings) -> None:
        """Write the settings atomically (call it off the event loop)."""
        write_private_json(self.path, settings.model_dump(mode="json"))

    def _problem(self, reason: str) -> ProviderError:
        aside = set_aside(self.path)
        log.error("settings file unusable", extra={"path": str(self.path), "reason": reason})
        return damaged(
            self.path,
            reason,
            aside,
            "Check the kept file and set your settings again on the status page.",
        )
