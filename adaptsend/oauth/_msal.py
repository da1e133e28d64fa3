"""Tokens from Microsoft Entra ID for an application, with msal (client
credentials: a client secret or a certificate, no user, no browser)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptsend._errors import ConfigError
from adaptsend.config._oauth import OAuthConfig
from adaptsend.oauth._tokens import AccessToken, TokenError

if TYPE_CHECKING:
    import msal  # type: ignore[import-untyped]

#: Entra ID errors that pass by themselves; any other needs a person.
_PASSING_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def client_secret(oauth: OAuthConfig) -> str | None:
    """The client secret named by ``client_secret_env`` or
    ``client_secret_file``, or None when there is none to read (no error:
    the provider reports that when it is made)."""
    try:
        return _read_secret(oauth)
    except ConfigError:
        return None


class MSALTokenProvider:
    """Fetches app-only tokens for ``[smtp.oauth] scope``.

    The settings and the secret are checked when it is made (a
    :class:`ConfigError` naming the key); msal is first asked for a token,
    and finds the authority's endpoints, in the first :meth:`fetch`.
    """

    def __init__(
        self, oauth: OAuthConfig, *, timeout_s: float, http_client: Any | None = None
    ) -> None:
        _check(oauth)
        self._oauth = oauth
        self._credential = _credential(oauth)
        self._timeout_s = timeout_s
        self._http_client = http_client
        self._app: msal.ConfidentialClientApplication | None = None

    def fetch(self) -> AccessToken:
        authority = self._oauth.authority_url()
        try:
            app = self._application()
            # msal keeps tokens until 5 minutes before they expire; the
            # agent's own cache decides when to ask, so every call is a new token.
            app.remove_tokens_for_client()
            result = app.acquire_token_for_client(scopes=[self._oauth.scope])
        except OSError as exc:  # requests' errors are OSErrors too
            raise TokenError(
                f"the token issuer {authority} could not be reached ({type(exc).__name__})",
                fatal=False,
            ) from None
        except ValueError as exc:
            # msal's own sentence about the authority or the credential.
            raise TokenError(f"msal could not use {authority}: {_first_line(exc)}") from None
        return _token_of(result, authority)

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            # Imported here: msal takes longer to import than adaptsend
            # takes to start, and only agents that use it should pay.
            import msal

            self._app = msal.ConfidentialClientApplication(
                self._oauth.client_id,
                client_credential=self._credential,
                authority=self._oauth.authority_url(),
                # The authority is the operator's own setting: there is no
                # need to ask Microsoft whether it knows the host.
                instance_discovery=False,
                http_client=self._http_client,
                timeout=self._timeout_s,
            )
        return self._app


def _token_of(result: dict[str, Any], authority: str) -> AccessToken:
    token = result.get("access_token")
    if isinstance(token, str) and token:
        expires_in = result.get("expires_in")
        life = float(expires_in) if isinstance(expires_in, int | float) else None
        return AccessToken(value=token, expires_in_s=life)
    error = str(result.get("error") or "no access_token in the answer")
    description = _first_line(result.get("error_description") or "")
    detail = f"{error}: {description}" if description else error
    raise TokenError(
        f"{authority} refused the token request ({detail})", fatal=error not in _PASSING_ERRORS
    )


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def _check(oauth: OAuthConfig) -> None:
    if not oauth.client_id:
        raise ConfigError('[smtp.oauth] provider = "msal" needs client_id')
    if not oauth.tenant_id and not oauth.authority:
        raise ConfigError('[smtp.oauth] provider = "msal" needs tenant_id (or authority)')
    given = [
        key
        for key in ("client_secret_env", "client_secret_file", "certificate_file")
        if getattr(oauth, key)
    ]
    if len(given) != 1:
        raise ConfigError(
            "[smtp.oauth] needs exactly one of client_secret_env, client_secret_file "
            f"and certificate_file, not {' and '.join(given) or 'none'}"
        )
    if oauth.certificate_file and not oauth.thumbprint:
        raise ConfigError("[smtp.oauth] certificate_file needs the certificate's thumbprint")


def _credential(oauth: OAuthConfig) -> str | dict[str, str]:
    secret = _read_secret(oauth)
    if secret is not None:
        return secret
    assert oauth.certificate_file is not None and oauth.thumbprint is not None
    key = _read_file(oauth.certificate_file, "certificate_file")
    return {"private_key": key, "thumbprint": oauth.thumbprint.replace(":", "")}


def _read_secret(oauth: OAuthConfig) -> str | None:
    if oauth.client_secret_env:
        secret = os.environ.get(oauth.client_secret_env, "").strip()
        if not secret:
            raise ConfigError(
                f"[smtp.oauth] client_secret_env names {oauth.client_secret_env}, "
                "which is not set or empty"
            )
        return secret
    if oauth.client_secret_file:
        secret = _read_file(oauth.client_secret_file, "client_secret_file").strip()
        if not secret:
            raise ConfigError(
                f"[smtp.oauth] client_secret_file {oauth.client_secret_file} is empty"
            )
        return secret
    return None


def _read_file(path: str, key: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"[smtp.oauth] {key} {path} cannot be read: {reason}") from None
