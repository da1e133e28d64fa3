"""adaptsend-maildir: a transport that writes messages where a person can open them.

Installed, it registers the ``maildir`` transport through the ``adaptsend``
entry-point group. With ``[run] transport = "maildir"`` every message goes to
a Maildir (or a folder of ``.eml`` files) named by ``[plugin.maildir] path``
instead of to a server: a dry run of a batch, or a staging system that must
never mail a customer.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from adaptsend import Config, hookimpl
from adaptsend.hookspecs import TransportFactory
from adaptsend_maildir._settings import MaildirSettings, parse_settings
from adaptsend_maildir._transport import MaildirConnection, MaildirTransport

__all__ = [
    "MaildirConnection",
    "MaildirSettings",
    "MaildirTransport",
    "adaptsend_register_transports",
    "parse_settings",
]


def _transport(config: Config, threads: trio.CapacityLimiter) -> MaildirTransport:
    return MaildirTransport(parse_settings(config.plugin.get("maildir", {})), threads=threads)


@hookimpl
def adaptsend_register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    register("maildir", _transport)
