"""Tokens from a program of the site's own (a token broker, a vault client):
it prints an access token, or JSON with ``access_token`` and ``expires_in``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

from adaptsend._errors import ConfigError
from adaptsend.oauth._tokens import AccessToken, TokenError


class CommandTokenProvider:
    """Runs ``argv`` (no shell) for each token. Its standard output is the
    token, or a JSON object; a token printed alone has an unknown life, so it
    is asked for again at every new connection (the broker keeps its own)."""

    def __init__(self, argv: Sequence[str], *, timeout_s: float) -> None:
        if not argv or not argv[0]:
            raise ConfigError('[smtp.oauth] provider = "command" needs command, a list of strings')
        self._argv = tuple(argv)
        self._timeout_s = timeout_s

    def fetch(self) -> AccessToken:
        name = self._argv[0]
        try:
            done = subprocess.run(
                self._argv,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TokenError(
                f"the token command {name} did not finish within {self._timeout_s:g} s",
                fatal=False,
            ) from None
        except OSError as exc:
            raise TokenError(
                f"the token command {name} could not be started: {exc.strerror}"
            ) from None
        if done.returncode != 0:
            first = _first_line(done.stderr)
            said = f": {first}" if first else " and wrote nothing on stderr"
            raise TokenError(
                f"the token command {name} failed with exit code {done.returncode}{said}"
            )
        return _parse(done.stdout, name)


def _parse(stdout: bytes, name: str) -> AccessToken:
    text = stdout.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        return _parse_json(text, name)
    if not text or len(text.split()) != 1:
        # The output is not repeated: it may hold a token.
        raise TokenError(
            f"the token command {name} printed {'nothing' if not text else 'more than a token'} "
            "(expected a token alone or JSON with access_token)"
        )
    return AccessToken(value=text)


def _parse_json(text: str, name: str) -> AccessToken:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        raise TokenError(f"the token command {name} printed JSON that does not parse") from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenError(f"the token command {name} printed JSON without an access_token string")
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)  # some brokers quote it, as Entra ID once did
    if expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, int | float)
    ):
        raise TokenError(f"the token command {name} printed an expires_in that is not a number")
    return AccessToken(value=token, expires_in_s=None if expires_in is None else float(expires_in))


def _first_line(output: bytes) -> str:
    lines = output.decode("utf-8", errors="replace").strip().splitlines()
    return lines[0].strip() if lines else ""
