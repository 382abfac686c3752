"""What the first request needs, imported right after the ready line (in a thread), so no
request waits on an import that could have happened earlier."""

from __future__ import annotations

from collections.abc import Iterable


def preload(modules: Iterable[str] = ()) -> None:
    """Import what the first request needs (run in a thread right after the ready line): the
    HTTP client the direct path sends on, each wire's adapter, and an SDK only when a credential
    in use needs one (importing both costs about 1.5 s and 55 MB, so an API-key user never pays
    it)."""
    import importlib

    import aiohttp  # noqa: F401

    for name in modules:
        importlib.import_module(name)
