"""The OS keyring, bounded: every call runs in a worker thread and gives up after a timeout.

On a headless Linux box keyring has no usable backend, and a broken D-Bus can make a call hang
forever. A backend that is the fail backend, raises NoKeyringError, or times out is reported as
unusable, with the reason, and the key store falls back to its file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger("kata.keyring")

SERVICE = "kata-providers"
T = TypeVar("T")


class KeyringUnavailable(Exception):
    """The keyring cannot be used; the message says why."""


def default_backend() -> Any:
    """The backend keyring would choose on this machine (may be slow; call in a thread)."""
    import keyring

    return keyring.get_keyring()


def backend_name(backend: Any) -> str:
    """A short label for a backend, e.g. `SecretService` or `Keyring (macOS)`."""
    module = type(backend).__module__.rsplit(".", 1)[-1]
    name = type(backend).__name__
    return name if name != "Keyring" else f"{module}"


class KeyringAccess:
    """One keyring backend behind a timeout. Thread-safe; async methods for the event loop."""

    def __init__(
        self, backend_factory: Callable[[], Any] = default_backend, timeout_s: float = 3.0
    ) -> None:
        self._factory = backend_factory
        self._timeout = timeout_s
        self._backend: Any = None
        self._unusable: str | None = None
        # One dedicated thread: a hung call blocks only keyring work, never the default pool.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyring")

    @property
    def unusable_reason(self) -> str | None:
        """Why the keyring is not used, or None when it is."""
        return self._unusable

    @property
    def name(self) -> str | None:
        """The backend's label when usable."""
        return None if self._backend is None or self._unusable else backend_name(self._backend)

    async def probe(self) -> bool:
        """Find the backend and check it is usable; remembers the answer."""
        if self._backend is not None or self._unusable is not None:
            return self._unusable is None
        try:
            backend = await self._run(self._factory)
        except KeyringUnavailable:
            return False
        module = type(backend).__module__
        if module.endswith((".fail", ".null")) or getattr(backend, "priority", 1) <= 0:
            self._unusable = f"no usable keyring backend ({backend_name(backend)})"
            return False
        self._backend = backend
        return True

    async def get(self, user: str) -> str | None:
        """The stored secret for `user`, or None."""
        value = await self._call(lambda b: b.get_password(SERVICE, user))
        return value if isinstance(value, str) else None

    async def set(self, user: str, secret: str) -> None:
        """Store a secret for `user`."""
        await self._call(lambda b: b.set_password(SERVICE, user, secret))

    async def delete(self, user: str) -> bool:
        """Forget `user`'s secret; False when there was none."""

        def remove(backend: Any) -> bool:
            from keyring.errors import PasswordDeleteError

            try:
                backend.delete_password(SERVICE, user)
            except PasswordDeleteError:
                return False
            return True

        return bool(await self._call(remove))

    async def read_foreign(self, service: str, user: str) -> str | None:
        """Read another tool's entry (never written)."""
        if not await self.probe():
            return None
        value = await self._call(lambda b: b.get_password(service, user))
        return value if isinstance(value, str) else None

    async def _call(self, fn: Callable[[Any], T]) -> T:
        if not await self.probe():
            raise KeyringUnavailable(self._unusable or "keyring unavailable")
        backend = self._backend
        return await self._run(lambda: fn(backend))

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, fn), self._timeout)
        except TimeoutError:
            self._unusable = f"keyring did not answer within {self._timeout:g} s"
            log.warning("keyring timed out; using the key file instead")
            raise KeyringUnavailable(self._unusable) from None
        except Exception as exc:  # any backend failure (NoKeyringError, D-Bus errors, ...)
            self._unusable = f"keyring failed: {type(exc).__name__}"
            log.warning(
                "keyring failed; using the key file instead", extra={"error": type(exc).__name__}
            )
            raise KeyringUnavailable(self._unusable) from exc

    def close(self) -> None:
        """Stop the worker thread without waiting for a hung call."""
        self._executor.shutdown(wait=False, cancel_futures=True)
