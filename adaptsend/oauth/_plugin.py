"""Registers the built-in token providers for ``[smtp] auth = "xoauth2"``,
and names the client secret they read so that it is hidden everywhere."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from adaptsend.config._settings import Config
from adaptsend.hookspecs import TokenProviderFactory, hookimpl
from adaptsend.oauth._command import CommandTokenProvider
from adaptsend.oauth._msal import MSALTokenProvider, client_secret
from adaptsend.oauth._tokens import TokenProvider


def _msal(config: Config) -> TokenProvider:
    return MSALTokenProvider(config.smtp.oauth, timeout_s=config.smtp.timeout_s)


def _command(config: Config) -> TokenProvider:
    return CommandTokenProvider(config.smtp.oauth.command, timeout_s=config.smtp.timeout_s)


@hookimpl
def adaptsend_register_token_providers(
    register: Callable[[str, TokenProviderFactory], None],
) -> None:
    register("msal", _msal)
    register("command", _command)


@hookimpl
def adaptsend_secrets(config: Config) -> Iterable[str]:
    if config.smtp.auth != "xoauth2":
        return ()
    secret = client_secret(config.smtp.oauth)
    return (secret,) if secret else ()
