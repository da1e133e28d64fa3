"""The attrs validators the configuration's sections share. Each raises
ValueError with one sentence that names the key, which the loader shows as
``in [section], <sentence>``."""

from __future__ import annotations

from typing import Any

import attrs


def positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, not {value}")


def optional_positive(inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        positive(inst, attribute, value)


def not_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, not {value}")


def port_number(_inst: object, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 < value < 65536:
        raise ValueError(f"port must be between 1 and 65535, not {value}")
