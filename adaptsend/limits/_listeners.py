"""Who hears of a limit's changes. A limit is made before the run that uses
it, so the run adds its listeners afterwards; they are called only when
something changes, never per message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Listeners(Generic[T]):
    """Callbacks called in the order they were added, synchronously, each
    with the change; an exception from one reaches the caller."""

    __slots__ = ("_callbacks",)

    def __init__(self, first: Callable[[T], None] | None = None) -> None:
        self._callbacks: tuple[Callable[[T], None], ...] = ()
        self.add(first)

    def add(self, callback: Callable[[T], None] | None) -> None:
        """Call ``callback`` too from now on (None adds nothing)."""
        if callback is not None:
            self._callbacks = (*self._callbacks, callback)

    def __call__(self, change: T) -> None:
        for callback in self._callbacks:
            callback(change)
