"""``[plugin.maildir]``: where the messages go and in which layout."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from adaptsend import structure_settings

Layout = Literal["maildir", "eml"]


@attrs.frozen(kw_only=True)
class MaildirSettings:
    #: The folder; relative to the working directory. Made if missing.
    path: str = "outbox"
    #: ``maildir``: a Maildir (``new/``, ``cur/``, ``tmp/``) that mail readers
    #: open as a folder. ``eml``: one ``.eml`` file per message, named after
    #: the time and the Message-ID, that opens in any mail program.
    layout: Layout = "maildir"
    #: Flush each file to disk before reporting the message as sent, as an
    #: SMTP server does before its 250.
    fsync: bool = True

    @property
    def folder(self) -> Path:
        return Path(self.path).expanduser().absolute()


def parse_settings(raw: Mapping[str, Any]) -> MaildirSettings:
    """Settings from the ``[plugin.maildir]`` table; ConfigError names the key."""
    return structure_settings(raw, MaildirSettings, table="plugin.maildir")
