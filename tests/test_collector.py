"""Once the hot path is loaded, the daemon moves what lives as long as the process out of the
collector's reach (gc.freeze) and lets the young generation grow to GC_YOUNG_THRESHOLD before a
collection (measured: at the default 700 the collector took about 6 % of a request's CPU)."""

from __future__ import annotations

import asyncio
import gc

import uvicorn

from service.process.serving import GC_YOUNG_THRESHOLD, DaemonServer


async def _noop() -> None:
    return None


async def test_the_collector_is_frozen_and_tuned_once_the_hot_path_is_loaded() -> None:
    before = gc.get_threshold()
    loaded = asyncio.Event()
    server = DaemonServer(
        uvicorn.Config(app="service.http.app:create_app"), lambda: None, None, _noop, loaded
    )
    try:
        gc.set_threshold(700, *before[1:])
        task = asyncio.create_task(server._freeze_when_loaded())
        await asyncio.sleep(0)
        assert gc.get_threshold()[0] == 700  # not before the hot path is loaded
        loaded.set()
        await task
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
