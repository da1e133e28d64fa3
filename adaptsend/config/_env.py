"""``ADAPTSEND_<SECTION>_<KEY>`` environment variables laid over the config file.

A value is read by the type of the key it sets, so that a password of digits
stays a string and ``false`` is a boolean.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import tomllib
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from adaptsend._errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "ADAPTSEND_"
#: Variables under the prefix that are not configuration keys.
NOT_CONFIG = frozenset({"ADAPTSEND_DISABLE_PLUGINS", "ADAPTSEND_CONFIG"})


def apply_env_overrides(
    raw: Mapping[str, Any], environ: Mapping[str, str], *, sections: Mapping[str, type]
) -> tuple[dict[str, Any], list[str]]:
    """Return ``raw`` with every matching environment variable applied, and the
    names of the variables that were applied (for error messages)."""
    merged: dict[str, Any] = {key: _copy(value) for key, value in raw.items()}
    applied: list[str] = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in NOT_CONFIG:
            continue
        section, _, key = name[len(PREFIX) :].lower().partition("_")
        if section not in sections:
            log.warning("%s", _unknown_section(name, section, sections))
            continue
        path, annotation = _key_path(sections[section], key, name)
        table = _table(merged, [section, *path[:-1]], name)
        table[path[-1]] = _parse(environ[name], annotation, name)
        applied.append(name)
    return merged, applied


def _unknown_section(variable: str, section: str, sections: Mapping[str, type]) -> str:
    """Why ``variable`` is ignored, with the section it may have meant."""
    close = difflib.get_close_matches(section, list(sections), n=1)
    hint = f"; did you mean [{close[0]}]?" if close else ""
    return f"{variable} is ignored: the configuration has no section [{section}]{hint}"


def _table(merged: dict[str, Any], path: list[str], variable: str) -> dict[str, Any]:
    table = merged
    for depth, part in enumerate(path):
        inner = table.get(part, {})
        if not isinstance(inner, dict):
            where = ".".join(path[: depth + 1])
            raise ConfigError(f"[{where}] must be a table to be overridden by {variable}")
        table[part] = inner = dict(inner)
        table = inner
    return table


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def _key_path(cls: type, key: str, variable: str) -> tuple[list[str], Any]:
    """The keys below the section that ``key`` names, and the type of the last.
    ``email_to`` in ``[alerts]`` is ``to`` in the table ``[alerts.email]``."""
    hints = typing.get_type_hints(cls)
    if key in attrs.fields_dict(cls):
        return [key], hints[key]
    for field in attrs.fields(cls):
        inner = hints[field.name]
        if key.startswith(field.name + "_") and isinstance(inner, type) and attrs.has(inner):
            rest = key[len(field.name) + 1 :]
            with contextlib.suppress(ConfigError):
                path, annotation = _key_path(inner, rest, variable)
                return [field.name, *path], annotation
    raise ConfigError(f"the environment variable {variable} names no setting: unknown key '{key}'")


def _parse(value: str, annotation: Any, variable: str) -> Any:
    target = _strip_optional(annotation)
    if target is str or typing.get_origin(target) is typing.Literal:
        return value
    if target is bool:
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{variable} must be true or false, not {value!r}")
    if typing.get_origin(target) is tuple:
        return _parse_list(value, variable)
    if target in (int, float):
        return _parse_number(value, target, variable)
    return value.strip()


def _parse_number(value: str, target: type, variable: str) -> int | float:
    try:
        return int(value.strip()) if target is int else float(value.strip())
    except ValueError:
        kind = "a whole number" if target is int else "a number"
        raise ConfigError(f"{variable} must be {kind}, not {value!r}") from None


def _parse_list(value: str, variable: str) -> list[Any]:
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            parsed = tomllib.loads(f"v = {stripped}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"{variable} is not a valid TOML list: {value!r}") from None
        return list(parsed)
    return [item.strip() for item in stripped.split(",") if item.strip()]


def _strip_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
