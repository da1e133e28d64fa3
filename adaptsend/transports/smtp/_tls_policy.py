"""When SMTP uses TLS, and when credentials may cross a network in clear text.

Never, by default: a username and password go only over TLS, or to a loopback
host (the same machine: nothing crosses a network). ``[smtp]
allow_plaintext_auth = true`` lifts the rule for a relay that cannot do TLS,
with a warning on every run.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Literal

from adaptsend._errors import ConfigError
from adaptsend._models import Reply, Stage
from adaptsend.config._settings import SMTPConfig

log = logging.getLogger("adaptsend.smtp")

#: What ``tls = "auto"`` and the others come down to when connecting.
Tls = Literal["starttls", "ssl", "none", "may"]

#: Ports whose use says which TLS they speak (RFC 8314 and RFC 6409).
_PORT_TLS: dict[int, Tls] = {465: "ssl", 587: "starttls"}


def effective_tls(config: SMTPConfig) -> Tls:
    """The TLS mode for ``config``: ``auto`` follows the port (465 ``ssl``,
    587 ``starttls``, any other ``may``, as Postfix's opportunistic TLS)."""
    if config.tls == "auto":
        return _PORT_TLS.get(config.port, "may")
    return config.tls


def is_loopback(host: str) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ``::1``; names are not
    looked up (a name that resolves to loopback still counts as remote)."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def plaintext_auth_allowed(config: SMTPConfig) -> bool:
    """Whether the credentials may go without TLS to ``config.host``. Raises
    ConfigError when they would always have to (``tls = "none"``) and may
    not; warns when the setting that allows it may take effect."""
    if is_loopback(config.host):
        return True
    tls = effective_tls(config)
    if not config.username or tls in ("starttls", "ssl"):
        return config.allow_plaintext_auth
    if not config.allow_plaintext_auth:
        if tls == "none":
            raise ConfigError(
                f'[smtp] tls = "none" would send the password for {config.username} in clear '
                f'text to {config.host}; use tls = "starttls" or "ssl" (or set '
                "allow_plaintext_auth = true if the network between is trusted)"
            )
        return False
    log.warning(
        "[smtp] allow_plaintext_auth is on: the password for %s may cross the network to "
        "%s in clear text",
        config.username,
        config.host,
    )
    return True


def no_plaintext_auth(config: SMTPConfig) -> Reply:
    """The local reply that stops a connection where STARTTLS was not offered
    and the password may not go in clear text (a fatal one: a person must act)."""
    text = (
        f"{config.host} does not offer STARTTLS, and the password is not sent in clear "
        'text to a remote host; use tls = "ssl", a server with STARTTLS, or '
        "allow_plaintext_auth = true if the network between is trusted"
    )
    return Reply(code=None, text=text, stage=Stage.AUTH)
