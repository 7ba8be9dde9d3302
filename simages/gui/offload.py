"""Work done off the event loop for a page, with NiceGUI's cancellation said plainly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import run

R = TypeVar("R")


def _boxed(callback: Callable[..., R], *args: Any) -> tuple[R]:
    return (callback(*args),)


async def in_thread(callback: Callable[..., R], *args: Any) -> R:
    """`callback(*args)` run in NiceGUI's thread pool, its result returned (None included).

    Raises asyncio.CancelledError when NiceGUI drops the call (the tab was closed mid-call, or the app is
    stopping): `run.io_bound` then returns None instead, which a page read as its answer and logged a
    traceback for (walk 5). NiceGUI 4.0 raises it itself; event handlers and timers end quietly on it.
    """
    done = await run.io_bound(_boxed, callback, *args)
    if done is None:
        raise asyncio.CancelledError
    return done[0]
