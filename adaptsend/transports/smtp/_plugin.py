"""Registers the built-in SMTP transport."""

from __future__ import annotations

from collections.abc import Callable

import trio

from adaptsend.classify._site import site_classifier
from adaptsend.config._settings import Config
from adaptsend.hookspecs import TransportFactory, hookimpl
from adaptsend.transports.smtp._transport import SMTPTransport


def _smtp_transport(config: Config, threads: trio.CapacityLimiter) -> SMTPTransport:
    return SMTPTransport(
        config.smtp, threads=threads, classifier=site_classifier(config.classifier)
    )


@hookimpl
def adaptsend_register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    register("smtp", _smtp_transport)
