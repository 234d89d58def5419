"""Reading ahead in a thread: the database works on the next window of rows (and waiting for
it releases the GIL) while the caller processes this one. Used by the export and by the
projection rebuild, which both walk the log window by window."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

_Item = TypeVar("_Item")


def prefetched(
    items: Iterator[_Item], depth: int = 2, name: str = "prefetch"
) -> Generator[_Item, None, None]:
    """`items`, produced by a thread up to `depth` ahead of the consumer, in order. An error in
    `items` is raised in the consumer. When the consumer stops early (closes this generator),
    the thread stops, closes `items` (so a connection or transaction it holds is released in
    the thread that opened it) and is joined."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        producer.join()
