"""Unwrapping trio's exception groups for people who did not start a nursery.

trio wraps whatever a task raised in an exception group. A caller of
``send_batch`` or of a CLI command expects ``KeyboardInterrupt`` or a plain
``ConfigError``, so when a group holds only such errors, the first of them is
what they get.
"""

from __future__ import annotations

from adaptsend._errors import AdaptsendError


def plain_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception to raise in place of ``group``, or None to keep it.

    A Ctrl-C anywhere in the group wins; otherwise the first user error when
    the group holds nothing else.
    """
    interrupt = group.subgroup(KeyboardInterrupt)
    if interrupt is not None:
        return _first(interrupt)
    errors, others = group.split(AdaptsendError)
    if errors is not None and others is None:
        return _first(errors)
    return None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
