"""Re-detecting sessions when their files change, without polling (inotify via watchfiles).

Folders that exist are watched recursively; for a folder that does not exist yet, its nearest
existing parent is watched shallowly, so creating it (e.g. a first `codex login`) is noticed.
After any relevant change the plan is rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger("kata.watch")

CATCH_UP_S = 0.1


def plan(targets: list[Path]) -> tuple[set[Path], set[Path]]:
    """(folders to watch recursively, parents to watch shallowly)."""
    deep: set[Path] = set()
    shallow: set[Path] = set()
    for target in targets:
        if target.is_dir():
            deep.add(target)
            continue
        parent = target.parent
        while not parent.is_dir() and parent != parent.parent:
            parent = parent.parent
        shallow.add(parent)
    return deep, shallow


def _relevant(changed: str, targets: list[Path]) -> bool:
    path = Path(changed)
    return any(path == t or t in path.parents or path in t.parents for t in targets)


async def _follow(
    roots: set[Path],
    recursive: bool,
    wanted: list[Path],
    halt: asyncio.Event,
    on_change: Callable[[], Awaitable[None]],
) -> None:
    from watchfiles import awatch

    if not roots:
        return
    async for changes in awatch(
        *roots,
        recursive=recursive,
        stop_event=halt,
        debounce=150,
        step=50,
        watch_filter=lambda _change, path: _relevant(path, wanted),
    ):
        log.debug("session files changed", extra={"count": len(changes)})
        await on_change()
        halt.set()


async def _halt_on(stop: asyncio.Event, halt: asyncio.Event) -> None:
    await stop.wait()
    halt.set()


async def watch_sessions(
    targets: Callable[[], list[Path]],
    on_change: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Call `on_change` after each relevant change under `targets()` until `stop` is set."""
    first = True
    while not stop.is_set():
        wanted = targets()
        deep, shallow = plan(wanted)
        halt = asyncio.Event()
        stop_task = asyncio.create_task(_halt_on(stop, halt))
        if not first:
            # Changes made while the previous watch was being replaced are caught here.
            asyncio.get_running_loop().call_later(
                CATCH_UP_S, lambda: asyncio.ensure_future(on_change())
            )
        first = False
        try:
            await asyncio.gather(
                _follow(deep, True, wanted, halt, on_change),
                _follow(shallow, False, wanted, halt, on_change),
            )
        except Exception:  # a watched folder vanished mid-watch, or inotify refused: re-plan
            log.warning("session watch failed; re-planning", exc_info=True)
            await asyncio.sleep(1)
            continue
        finally:
            stop_task.cancel()
        if not halt.is_set():  # nothing to watch at all: wait for the stop
            await stop.wait()
