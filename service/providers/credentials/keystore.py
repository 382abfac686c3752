"""API keys: the OS keyring first, else `credentials.json` (0600) in the data folder, and the
provider's environment variable as a read-only source below both.

Precedence for the key in force: keyring, file, environment (explicit beats ambient). The key
is held in memory once loaded, so status requests never touch the keyring.

Each key is kept under its entry name: a built-in provider's id, or for a provider a user added
its id and the origin it was added with (`ollama@http://127.0.0.1:11434`), so a stored key is only
ever read back for the same id at the same scheme, host and port: one left behind by a removed
provider never reaches a new provider of that id that points elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.private_files import (
    UnsafeFileError,
    damaged,
    read_private_json,
    set_aside,
    write_private_json,
)
from adapters.specs import SPECS
from contracts.base import BUILT_IN, ProviderId
from contracts.errors import InvalidRequest, ProviderError
from service.providers.credentials.keyring_access import KeyringAccess, KeyringUnavailable

log = logging.getLogger("kata.keys")

FILE_NAME = "credentials.json"
FILE_VERSION = 1


@dataclass(frozen=True)
class StoredKey:
    """A key and where it came from. `repr` never shows the key."""

    value: str = field(repr=False)
    source: str

    @property
    def hint(self) -> str:
        """The last four characters, masked: enough to recognise a key, not to use it."""
        return f"…{self.value[-4:]}"


class KeyStore:
    """Reads and writes API keys; one instance per daemon."""

    def __init__(
        self,
        data_dir: Path,
        keyring: KeyringAccess,
        env: dict[str, str] | None = None,
        entry: Callable[[ProviderId], str] = str.__str__,
    ):
        self._entry = entry  # the name a provider's key is kept under
        self._path = data_dir / FILE_NAME
        self._keyring = keyring
        self._env = dict(os.environ if env is None else env)
        self._stored: dict[ProviderId, StoredKey] = {}
        self._file_problem: UnsafeFileError | ValueError | None = None
        self._loaded = False
        self._file_lock = asyncio.Lock()  # file changes run in a thread, one at a time
        self.damage: ProviderError | None = None  # a damaged key file found (and kept aside)

    @property
    def path(self) -> Path:
        """Where the fallback key file lives."""
        return self._path

    @property
    def store_name(self) -> str:
        """Where a key saved now goes: `keyring:<backend>` or `file`."""
        name = self._keyring.name
        return f"keyring:{name}" if name else "file"

    @property
    def keyring_problem(self) -> str | None:
        """Why the keyring is not in use, if it is not."""
        return self._keyring.unusable_reason

    async def load(self, providers: Iterable[ProviderId] = BUILT_IN) -> None:
        """Read every stored key of `providers` once: keyring entries first, then the file."""
        stored: dict[ProviderId, StoredKey] = {}
        async with self._file_lock:
            file_keys = await asyncio.to_thread(self._read_file)
            if isinstance(self._file_problem, ValueError):
                reason = f"is not a valid key file ({self._file_problem})"
                aside = await asyncio.to_thread(set_aside, self._path)
                self.damage = damaged(
                    self._path, reason, aside, "Add your API keys again on the status page."
                )
                self._file_problem = None
        for provider in providers:
            value = await self._keyring_get(provider)
            if value:
                stored[provider] = StoredKey(value, self.store_name)
            elif self._entry(provider) in file_keys:
                stored[provider] = StoredKey(file_keys[self._entry(provider)], "file")
        self._stored = stored
        self._loaded = True

    def key(self, provider: ProviderId) -> StoredKey | None:
        """The key in force for `provider`: stored first, then the environment."""
        stored = self._stored.get(provider)
        if stored is not None:
            return stored
        spec = SPECS.get(provider)
        value = self._env.get(spec.key_env, "").strip() if spec is not None else ""
        return StoredKey(value, "env") if value else None

    def problem(self) -> ProviderError | None:
        """A key file that exists but cannot be trusted or read, as an error to show."""
        problem = self._file_problem
        if problem is None:
            return None
        if isinstance(problem, UnsafeFileError):
            return InvalidRequest(
                f"The key file {problem.path} {problem.reason}; its keys are not used.",
                problem.remediation,
            )
        return InvalidRequest(
            f"The key file {self._path} is not valid ({problem}); its keys are not used.",
            f"Fix or delete {self._path}, then add the keys again.",
        )

    async def put(self, provider: ProviderId, value: str) -> StoredKey:
        """Store a key: in the keyring when usable, else in the file. Returns where it went."""
        if await self._keyring_set(provider, value):
            async with self._file_lock:
                await asyncio.to_thread(self._remove_from_file, provider)
            stored = StoredKey(value, self.store_name)
        else:
            async with self._file_lock:
                await asyncio.to_thread(self._write_to_file, provider, value)
            stored = StoredKey(value, "file")
        self._stored[provider] = stored
        log.info("api key stored", extra={"provider": provider.value, "store": stored.source})
        return stored

    async def delete(self, provider: ProviderId) -> bool:
        """Forget the stored key wherever it is kept; False when none was stored."""
        removed = False
        with contextlib.suppress(KeyringUnavailable):
            removed = await self._keyring.delete(self._entry(provider))
        async with self._file_lock:
            removed = await asyncio.to_thread(self._remove_from_file, provider) or removed
            # Copies of damaged key files may hold this key too: a deleted key leaves none.
            await asyncio.to_thread(self._remove_kept_copies)
        removed = self._stored.pop(provider, None) is not None or removed
        log.info("api key removed", extra={"provider": provider.value, "removed": removed})
        return removed

    async def _keyring_get(self, provider: ProviderId) -> str | None:
        try:
            return await self._keyring.get(self._entry(provider))
        except KeyringUnavailable:
            return None

    async def _keyring_set(self, provider: ProviderId, value: str) -> bool:
        try:
            await self._keyring.set(self._entry(provider), value)
        except KeyringUnavailable:
            return False
        return True

    def _read_file(self) -> dict[str, str]:
        try:
            data = read_private_json(self._path)
        except FileNotFoundError:
            self._file_problem = None
            return {}
        except UnsafeFileError as exc:
            self._file_problem = exc
            log.error("key file refused", extra={"path": str(exc.path), "reason": exc.reason})
            return {}
        except (ValueError, OSError) as exc:
            self._file_problem = ValueError(type(exc).__name__)
            log.error("key file unreadable", extra={"path": str(self._path)})
            return {}
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, dict):
            self._file_problem = ValueError("no 'keys' object")
            return {}
        if data.get("version", FILE_VERSION) != FILE_VERSION:
            self._file_problem = ValueError(f"unknown version {data.get('version')!r}")
            return {}
        self._file_problem = None
        return {k: v for k, v in keys.items() if isinstance(k, str) and isinstance(v, str) and v}

    def _write_to_file(self, provider: ProviderId, value: str) -> None:
        keys = self._read_file()
        problem = self.problem()
        if isinstance(self._file_problem, UnsafeFileError) and problem is not None:
            raise problem
        if self._file_problem is not None:
            # Keep an unreadable key file instead of overwriting it: nothing is lost silently.
            aside = set_aside(self._path)
            log.error("unreadable key file kept aside", extra={"path": str(aside)})
        keys[self._entry(provider)] = value
        write_private_json(self._path, {"version": FILE_VERSION, "keys": keys})
        self._file_problem = None

    def _remove_kept_copies(self) -> None:
        for copy in self._path.parent.glob(f"{FILE_NAME}.corrupt-*"):
            with contextlib.suppress(OSError):
                copy.unlink()

    def _remove_from_file(self, provider: ProviderId) -> bool:
        keys = self._read_file()
        entry = self._entry(provider)
        if self._file_problem is not None or entry not in keys:
            return False
        del keys[entry]
        write_private_json(self._path, {"version": FILE_VERSION, "keys": keys})
        return True


KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.:+/=")
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 512


def check_key_shape(provider: ProviderId, value: str) -> None:
    """Refuse what cannot be an API key, saying why, without echoing the value."""

    def refuse(
        message: str, remediation: str = "Paste the whole key, as the console shows it."
    ) -> None:
        raise InvalidRequest(message, remediation, provider=provider, status=422)

    if not value:
        refuse("The API key is empty.")
    if any(c.isspace() for c in value):
        refuse("The API key contains whitespace.", "Remove spaces and line breaks around the key.")
    if not MIN_KEY_LENGTH <= len(value) <= MAX_KEY_LENGTH:
        refuse(f"The API key must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters long.")
    if not set(value) <= KEY_CHARACTERS:
        refuse("The API key contains characters no provider key uses.")
    spec = SPECS.get(provider)
    for refused in spec.refused_keys if spec is not None else ():
        if value.startswith(refused.prefix):
            refuse(refused.message, refused.remediation)
