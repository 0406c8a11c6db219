"""Running hybrid's coroutines from synchronous code, including inside Jupyter's running loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion and return its result.

    Without a running loop in this thread, this is `asyncio.run`. With one, as in
    a Jupyter cell, the coroutine runs on a fresh loop in a helper thread, since
    the running loop cannot be re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)

    result: dict[str, Any] = {}

    def runner() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=runner, name="hybrid-run-sync")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
