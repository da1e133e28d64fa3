"""What a test server is told to do, checked once when it is made."""

from __future__ import annotations

import re
import ssl
import time
import types
from collections.abc import Callable, Iterable, Mapping

import attrs

from adaptsend._models import Stage

#: Microsoft 365's answer to the connection over its concurrency limit.
DEFAULT_THROTTLE_REPLY = (
    "432 4.3.2 Concurrent connections limit exceeded. "
    "Visit https://aka.ms/concurrent_sending for more information. "
    "[Hostname=adaptsend-testing]"
)

#: The reply to a refused greeting, unless ``greeting_refusal`` says otherwise:
#: a server that is there but will not serve, which a client should take for an
#: outage (not ``4.3.2``, which Microsoft 365 gives for too many connections).
DEFAULT_GREETING_REFUSAL = "421 4.3.0 Service not available, closing transmission channel"

#: The stages at which the server can throttle or stall.
HOOK_STAGES = frozenset({Stage.CONNECT, Stage.MAIL, Stage.RCPT, Stage.DATA})

_REPLY_LINE = re.compile(r"[2-5][0-9]{2}( [^\r\n]*)?")


def _to_stage(value: Stage | str) -> Stage:
    stage = Stage(value)
    if stage not in HOOK_STAGES:
        allowed = ", ".join(sorted(HOOK_STAGES))
        raise ValueError(f"stage must be one of {allowed}, not {value!r}")
    return stage


def _to_schedule(
    value: Iterable[tuple[float, int | None]],
) -> tuple[tuple[float, int | None], ...]:
    # Sorted so that a reader can stop at the first change still in the future.
    return tuple(sorted(((float(at), limit) for at, limit in value), key=lambda e: e[0]))


def _to_address_replies(value: Mapping[str, str] | None) -> Mapping[str, str]:
    # Addresses are matched without regard to case, as real providers do.
    return types.MappingProxyType({k.lower(): v for k, v in (value or {}).items()})


def _to_tokens(value: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(value))


def _check_schedule(
    _: object,
    attribute: attrs.Attribute[tuple[tuple[float, int | None], ...]],
    value: tuple[tuple[float, int | None], ...],
) -> None:
    for at, limit in value:
        if at < 0 or (limit is not None and limit < 0):
            raise ValueError(f"{attribute.name} entry ({at}, {limit}) is negative")


_reply_line = attrs.validators.matches_re(_REPLY_LINE)
_optional_reply = attrs.validators.optional(_reply_line)
_not_negative = attrs.validators.ge(0.0)
_every = attrs.validators.optional(attrs.validators.ge(1))
_address_replies = attrs.validators.deep_mapping(
    key_validator=attrs.validators.instance_of(str), value_validator=_reply_line
)
# Typed apart so that attrs' field() sees the same type in default and validator.
_KEEP_RECEIVED: int | None = 10_000


@attrs.frozen(kw_only=True)
class ServerOptions:
    """Everything a :class:`ThrottlingSMTPServer` was told; see its docstring."""

    host: str = "127.0.0.1"
    port: int = 0
    hostname: str = "adaptsend-testing"
    limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )
    schedule: tuple[tuple[float, int | None], ...] = attrs.field(
        default=(), converter=_to_schedule, validator=_check_schedule
    )
    throttle_stage: Stage = attrs.field(default=Stage.DATA, converter=_to_stage)
    throttle_reply: str = attrs.field(default=DEFAULT_THROTTLE_REPLY, validator=_reply_line)
    close_after_throttle: bool = True
    latency_s: float = attrs.field(default=0.0, validator=_not_negative)
    latency_jitter_s: float = attrs.field(default=0.0, validator=_not_negative)
    rcpt_replies: Mapping[str, str] = attrs.field(
        factory=dict,
        converter=_to_address_replies,
        validator=_address_replies,
    )
    data_reply: str | None = attrs.field(default=None, validator=_optional_reply)
    data_replies: Mapping[str, str] = attrs.field(
        factory=dict, converter=_to_address_replies, validator=_address_replies
    )
    auth: tuple[str, str] | None = None
    auth_reply: str | None = attrs.field(default=None, validator=_optional_reply)
    xoauth2_tokens: Mapping[str, str] = attrs.field(factory=dict, converter=_to_tokens)
    drop_after_data: int | None = attrs.field(default=None, validator=_every)
    stall_s: float = attrs.field(default=0.0, validator=_not_negative)
    stall_stage: Stage = attrs.field(default=Stage.DATA, converter=_to_stage)
    tls_context: ssl.SSLContext | None = None
    pipelining: bool = False
    chunking: bool = False
    hang_up_after: int | None = attrs.field(default=None, validator=_every)
    hang_up_reply: str | None = attrs.field(default=None, validator=_optional_reply)
    cut_content_every: int | None = attrs.field(default=None, validator=_every)
    lose_reply_every: int | None = attrs.field(default=None, validator=_every)
    lose_reply_stall_s: float = attrs.field(default=0.0, validator=_not_negative)
    refuse_greeting_every: int | None = attrs.field(default=None, validator=_every)
    refuse_greetings: bool = False
    greeting_refusal: str = attrs.field(default=DEFAULT_GREETING_REFUSAL, validator=_reply_line)
    reset_tls_every: int | None = attrs.field(default=None, validator=_every)
    greeting_delay_s: float = attrs.field(default=0.0, validator=_not_negative)
    keep_received: int | None = attrs.field(
        default=_KEEP_RECEIVED, validator=attrs.validators.optional(attrs.validators.ge(0))
    )
    clock: Callable[[], float] = time.monotonic
