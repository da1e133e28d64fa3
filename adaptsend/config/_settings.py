"""Configuration: ``adaptsend.toml`` plus ``ADAPTSEND_<SECTION>_<KEY>`` overrides.

Loaded with one strict cattrs converter, so a misspelt key is an error that
names the key rather than a setting that silently does nothing.
"""

import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs
import cattrs

from adaptsend._errors import ConfigError
from adaptsend.config._alerts import AlertsConfig
from adaptsend.config._env import apply_env_overrides
from adaptsend.config._metrics import MetricsConfig
from adaptsend.config._oauth import OAuthConfig
from adaptsend.config._source import SourceConfig
from adaptsend.config._validators import optional_positive, port_number, positive

DEFAULT_CONFIG_FILE = "adaptsend.toml"

#: ``auto`` (the default) follows the port: 465 is ``ssl``, 587 ``starttls``,
#: any other ``may``. ``may``: STARTTLS when the server offers it. ``starttls``:
#: STARTTLS or no session at all. ``ssl``: TLS from the first byte. ``none``: no
#: TLS. (New words go last: error messages list them in this order.)
TlsMode = Literal["starttls", "ssl", "none", "auto", "may"]
#: How to log in when ``[smtp] username`` is set: with ``password``, or with
#: an OAuth 2.0 access token (``xoauth2``) from ``[smtp.oauth]``.
AuthMode = Literal["password", "xoauth2"]
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class StoreConfig:
    #: A SQLAlchemy URL. A relative SQLite path is relative to the working directory.
    url: str = "sqlite:///adaptsend.db"


@attrs.frozen(kw_only=True)
class SMTPConfig:
    host: str = "localhost"
    port: int = attrs.field(default=25, validator=port_number)
    tls: TlsMode = "auto"
    username: str | None = None
    #: Never shown: not in repr, not in logs, not in errors.
    password: str | None = attrs.field(default=None, repr=False)
    timeout_s: float = attrs.field(default=60.0, validator=positive)
    #: Verify the server's certificate for starttls and ssl. Turn off only for a test relay.
    verify_tls: bool = True
    #: Send the username and password to a host that is not loopback without
    #: TLS. Off: such a configuration is refused; on: a warning on every run.
    allow_plaintext_auth: bool = False
    #: A PEM file of CA certificates to trust instead of the system's (a private CA).
    ca_file: str | None = None
    #: The name given in EHLO; the machine's name when unset.
    local_hostname: str | None = None
    #: Send MAIL, RCPT and DATA together when the server offers PIPELINING
    #: (RFC 2920), and a content with the next message's commands: one round
    #: trip per message instead of four.
    pipelining: bool = True
    #: With PIPELINING, send a whole batch of messages in one write when the
    #: server also offers CHUNKING (RFC 3030, BDAT): no round trip per message.
    chunking: bool = True
    #: Recipients per transaction: a message with more is sent in several
    #: transactions on one connection (RFC 5321 asks servers to take 100;
    #: Exchange Online takes 500). A server that takes fewer says so with
    #: ``452 4.5.3``, and the rest go in the next transaction.
    max_recipients: int = attrs.field(default=100, validator=positive)
    #: The largest message to send, in bytes; a larger one fails before it is
    #: sent. None: only the server's own limit (its EHLO SIZE), when it gives one.
    max_message_bytes: int | None = attrs.field(default=None, validator=optional_positive)
    #: ``password`` logs in with AUTH PLAIN or LOGIN, ``xoauth2`` with a token
    #: from ``oauth`` (Microsoft 365 once Basic authentication is off).
    auth: AuthMode = "password"
    oauth: OAuthConfig = attrs.field(factory=OAuthConfig)

    def __attrs_post_init__(self) -> None:
        if self.auth == "xoauth2" and not self.username:
            raise ValueError(
                'auth = "xoauth2" needs a username: the mailbox to send as '
                "(the token says which application logs in, not as whom)"
            )


@attrs.frozen(kw_only=True)
class LimiterConfig:
    initial_cap: int = attrs.field(default=2, validator=positive)
    min_cap: int = attrs.field(default=1, validator=positive)
    max_cap: int = attrs.field(default=8, validator=positive)
    decrease_factor: float = 0.5
    probe_interval_s: float = attrs.field(default=30.0, validator=positive)
    #: A probe that fails doubles the wait before the next one, up to this.
    max_probe_interval_s: float = attrs.field(default=600.0, validator=positive)
    #: A probe also comes after this many windows of successes at a binding
    #: cap (about as many message times) if that is sooner, so that one setting
    #: suits fast and slow servers. A cap shared through the store counts time only.
    probe_after_windows: int = attrs.field(default=32, validator=positive)
    #: An open idle connection takes one of the provider's slots: close it soon.
    idle_close_s: float = attrs.field(default=5.0, validator=positive)
    #: After a quota reply (a daily limit reached), how long the sending key
    #: pauses before one message tries again.
    quota_pause_s: float = attrs.field(default=3600.0, validator=positive)
    #: Share one cap per sending key with every agent on the same store. None:
    #: yes for a server database (PostgreSQL, Oracle), no for SQLite.
    shared: bool | None = None
    #: Messages a minute per sending key, as a token bucket (see ``limits._rate``):
    #: in the store, shared by every agent on it, when the cap is shared;
    #: this agent's own otherwise. None: no limit.
    max_per_minute: float | None = attrs.field(default=None, validator=optional_positive)
    #: Recipients a day per sending key, counted in the store for every agent
    #: on it over the last 24 hours (see ``limits._day_budget``). None: no limit.
    max_recipients_per_day: int | None = attrs.field(default=None, validator=optional_positive)

    def __attrs_post_init__(self) -> None:
        if self.max_per_minute is not None and not math.isfinite(self.max_per_minute):
            raise ValueError(f"max_per_minute must be a finite number, not {self.max_per_minute}")
        if not self.min_cap <= self.initial_cap <= self.max_cap:
            raise ValueError(
                "caps must satisfy min_cap <= initial_cap <= max_cap, not "
                f"{self.min_cap} <= {self.initial_cap} <= {self.max_cap}"
            )
        if not 0 < self.decrease_factor < 1:
            raise ValueError(f"decrease_factor must be between 0 and 1, not {self.decrease_factor}")
        if self.probe_interval_s > self.max_probe_interval_s:
            raise ValueError(
                f"probe_interval_s ({self.probe_interval_s}) must not exceed "
                f"max_probe_interval_s ({self.max_probe_interval_s})"
            )


@attrs.frozen(kw_only=True)
class RetryConfig:
    #: Attempts before a message is dead. Throttled attempts do not count.
    max_attempts: int = attrs.field(default=8, validator=positive)
    #: Throttled attempts before a message is dead: a safety net for a provider
    #: that never lets this account in, far above what a busy day produces.
    max_throttles: int = attrs.field(default=100, validator=positive)
    base_delay_s: float = attrs.field(default=2.0, validator=positive)
    max_delay_s: float = attrs.field(default=300.0, validator=positive)
    #: A message still unsent this long after it was queued is dead at its next
    #: failure: five days, as long as a mail server keeps mail.
    max_age_s: float = attrs.field(default=432_000.0, validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.base_delay_s > self.max_delay_s:
            raise ValueError(
                f"base_delay_s ({self.base_delay_s}) must not exceed "
                f"max_delay_s ({self.max_delay_s})"
            )


def _patterns(_inst: object, attribute: "attrs.Attribute[Any]", value: tuple[str, ...]) -> None:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"{attribute.name} pattern {pattern!r} is not a valid regular expression ({exc})"
            ) from None


@attrs.frozen(kw_only=True)
class ClassifierConfig:
    """Site patterns (regular expressions, case-insensitive) matched against a
    reply such as ``"432 4.3.2 Concurrent connections limit exceeded"``. They are
    tried before the built-in rules."""

    throttle: tuple[str, ...] = attrs.field(default=(), validator=_patterns)
    transient: tuple[str, ...] = attrs.field(default=(), validator=_patterns)
    permanent: tuple[str, ...] = attrs.field(default=(), validator=_patterns)
    fatal: tuple[str, ...] = attrs.field(default=(), validator=_patterns)


@attrs.frozen(kw_only=True)
class RunConfig:
    transport: str = "smtp"
    #: Messages leased per claim; a page, never the whole queue.
    page_size: int = attrs.field(default=200, validator=positive)
    #: How long a claim is held before another agent may take the message. A
    #: run renews the leases it holds every third of this, so after a crash
    #: the next run takes over within about this long.
    lease_s: float = attrs.field(default=60.0, validator=positive)
    #: Without ``--follow``, how long a run waits for an unreachable server
    #: before it stops with exit 4 (deferred), leaving the messages queued.
    outage_wait_s: float = attrs.field(default=300.0, validator=positive)
    #: Most outcomes written per transaction. Outcomes are written as soon as
    #: the previous write is done, so a busy run writes big batches by itself.
    record_batch: int = attrs.field(default=200, validator=positive)
    #: With ``--follow``, how often to look for new messages when idle.
    poll_interval_s: float = attrs.field(default=2.0, validator=positive)


@attrs.frozen(kw_only=True)
class Config:
    store: StoreConfig = StoreConfig()
    smtp: SMTPConfig = SMTPConfig()
    limiter: LimiterConfig = LimiterConfig()
    retry: RetryConfig = RetryConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    run: RunConfig = RunConfig()
    alerts: AlertsConfig = attrs.field(factory=AlertsConfig)
    source: SourceConfig = attrs.field(factory=SourceConfig)
    metrics: MetricsConfig = attrs.field(factory=MetricsConfig)
    #: Settings of plugins, one table each: ``[plugin.NAME]``.
    plugin: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def structure_strings(value: Any, _type: Any) -> tuple[str, ...]:
        # A bare string would otherwise become a tuple of its characters.
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of strings")
        return tuple(value)

    def structure_bool(value: Any, _type: Any) -> bool:
        # bool("no") is True: accept only a real boolean.
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value

    def structure_int(value: Any, _type: Any) -> int:
        # int(2.5) and int("7") would pass silently: a whole number must be one.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected a whole number")
        return value

    def structure_float(value: Any, _type: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number")
        return float(value)

    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], structure_strings)
    converter.register_structure_hook(bool, structure_bool)
    converter.register_structure_hook(int, structure_int)
    converter.register_structure_hook(float, structure_float)
    return converter


_converter = _make_converter()


def load_config(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Config:
    """Read the configuration.

    ``path`` None means ``adaptsend.toml`` in the working directory if it exists,
    else the defaults. Environment variables override the file. Raises
    :class:`ConfigError` with one sentence naming the bad key.
    """
    source, raw = _read_file(path)
    env = os.environ if environ is None else environ
    merged, variables = apply_env_overrides(raw, env, sections=_section_types())
    if variables:
        source = f"{source} with {', '.join(variables)}"
    return config_from_dict(merged, source=source)


def config_from_dict(raw: Mapping[str, Any], *, source: str = "configuration") -> Config:
    """Build a :class:`Config` from plain data, as the TOML file would give it."""
    try:
        return _converter.structure(raw, Config)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: {describe_config_error(exc)}") from None


def structure_settings(raw: Mapping[str, Any], cls: type[T], *, table: str) -> T:
    """A plugin's settings (its ``[plugin.NAME]`` table, ``table`` being
    ``"plugin.NAME"``) as the attrs class ``cls``, read as strictly as
    adaptsend's own configuration: an unknown or mistyped key raises
    :class:`ConfigError` with one sentence that names it."""
    try:
        return _converter.structure(dict(raw), cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise ConfigError(describe_config_error(exc, root=table)) from None


def describe_config_error(exc: BaseException, *, root: str = "") -> str:
    """One sentence for the first thing wrong, naming the key by its TOML path
    (below the table ``root``, for a plugin's settings)."""
    if not isinstance(exc, cattrs.BaseValidationError):
        return f"in [{root}], {exc}" if root else str(exc)
    messages = cattrs.transform_error(exc, path=root, format_exception=_format_leaf)
    first = messages[0] if messages else str(exc)
    text, _, where = first.partition(" @ ")
    # Table keys come as ['name'] and list items as [0]: show a.b and a[0].
    key = re.sub(r"\['([^']*)'\]", r".\1", where).lstrip(".")
    if text.startswith("unknown key"):
        return f"{text} in [{key}]" if key else f"{text} (not a section)"
    if not text.startswith(("must", "is required")):
        # A whole-table check (a validator) names its own field in the sentence.
        return f"in [{key}], {text}" if key else text
    return f"{key} {text}"


_TYPE_WORDS: dict[Any, str] = {
    int: "must be a whole number",
    int | None: "must be a whole number",
    float: "must be a number",
    float | None: "must be a number",
    bool: "must be true or false",
    bool | None: "must be true or false",
    str: "must be a string",
    tuple[str, ...]: "must be a list of strings",
    tuple[str, ...] | None: "must be a list of strings",
}


def _format_leaf(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "is required"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return "unknown key " + ", ".join(repr(key) for key in sorted(exc.extra_fields))
    if typing.get_origin(type_) is Literal:
        return "must be one of " + ", ".join(repr(arg) for arg in typing.get_args(type_))
    if type_ in _TYPE_WORDS:
        return str(_TYPE_WORDS[type_])
    if attrs.has(type_ or object) or typing.get_origin(type_) in (Mapping, dict):
        return "must be a table"
    if isinstance(exc, ValueError) and type_ is None:
        # A validator's own sentence already names the key and the rule.
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def _read_file(path: str | os.PathLike[str] | None) -> tuple[str, dict[str, Any]]:
    if path is None:
        default = Path(DEFAULT_CONFIG_FILE)
        if not default.exists():
            return "the built-in defaults", {}
        path = default
    file = Path(path)
    try:
        with file.open("rb") as handle:
            return str(file), tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"the config file {file} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {file}: {exc.strerror}") from None


def _section_types() -> dict[str, type]:
    return {
        field.name: field.type
        for field in attrs.fields(Config)
        if isinstance(field.type, type) and attrs.has(field.type)
    }
