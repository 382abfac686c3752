"""`settings.json`: user settings that survive a restart, schema-versioned, written atomically.

A file that cannot be read is kept aside as `settings.json.corrupt-<time>` and defaults are
used; the caller is told so it can log and publish the problem. Nothing is lost silently.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.base import ProviderId
from contracts.errors import InvalidRequest, ProviderError
from contracts.providers import ProviderSettings
from contracts.settings import DaemonSettings
from service.credentials.files import write_private_json

log = logging.getLogger("kata.settings")

FILE_NAME = "settings.json"
SCHEMA_VERSION = 1


class PersistedSettings(BaseModel):
    """The file's shape. Unknown fields are kept out so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    providers: dict[ProviderId, ProviderSettings] = Field(
        default_factory=lambda: {provider: ProviderSettings() for provider in ProviderId}
    )

    def provider(self, provider: ProviderId) -> ProviderSettings:
        """One provider's settings (defaults when the file had none)."""
        return self.providers.get(provider) or ProviderSettings()


class SettingsStore:
    """Loads once, saves on every change."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> tuple[PersistedSettings, ProviderError | None]:
        """The saved settings, or defaults and the reason the file could not be used."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return PersistedSettings(), None
        except OSError as exc:
            return PersistedSettings(), self._problem(f"cannot be read ({exc.strerror})", None)
        try:
            data = json.loads(raw)
            if isinstance(data, dict) and data.get("schema_version", 0) > SCHEMA_VERSION:
                raise ValueError(
                    f"schema_version {data['schema_version']} is newer than this daemon"
                )
            return PersistedSettings.model_validate(data), None
        except (ValueError, ValidationError) as exc:
            reason = "does not match the schema" if isinstance(exc, ValidationError) else str(exc)
            return PersistedSettings(), self._problem(reason, self._set_aside())

    def save(self, settings: PersistedSettings) -> None:
        """Write the settings atomically."""
        write_private_json(self.path, settings.model_dump(mode="json"))

    def _set_aside(self) -> Path:
        aside = self.path.with_name(f"{FILE_NAME}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(self.path, aside)
        return aside

    def _problem(self, reason: str, aside: Path | None) -> ProviderError:
        kept = f" It was kept as {aside}." if aside else ""
        log.error("settings file unusable", extra={"path": str(self.path), "reason": reason})
        return InvalidRequest(
            f"The settings file {self.path} {reason}; defaults are in use.{kept}",
            "Check the kept file and set your settings again on the settings page.",
        )
