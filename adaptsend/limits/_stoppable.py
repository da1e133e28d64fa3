"""Waits that one call ends: a limit's ``stop`` ends every wait under way
(for a token, for room in the day) and makes later ones return at once."""

from __future__ import annotations

from types import TracebackType

import trio


class StoppableWaits:
    """The cancel scopes of the waits under way, and whether they were stopped."""

    def __init__(self) -> None:
        self._scopes: set[trio.CancelScope] = set()
        self.stopped = False

    def waiting(self) -> _Wait:
        """A wait that :meth:`stop` cancels; the cancel ends at this block."""
        return _Wait(self._scopes)

    def stop(self) -> None:
        """End every wait under way; later ones find :attr:`stopped` set."""
        self.stopped = True
        for scope in list(self._scopes):
            scope.cancel()

    def __len__(self) -> int:
        """Waits under way."""
        return len(self._scopes)


class _Wait:
    """One wait: a cancel scope, known to its :class:`StoppableWaits` while it lasts."""

    def __init__(self, scopes: set[trio.CancelScope]) -> None:
        self._scopes = scopes
        self._scope = trio.CancelScope()

    def __enter__(self) -> None:
        self._scope.__enter__()
        self._scopes.add(self._scope)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        # True when the stop's cancel ended here, as a cancel scope says.
        self._scopes.discard(self._scope)
        return self._scope.__exit__(exc_type, exc, tb)
