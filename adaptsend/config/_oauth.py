"""The ``[smtp.oauth]`` settings: where XOAUTH2 access tokens come from.

Only names of secrets live here (an environment variable, a file): a client
secret written into the configuration itself is refused, because the file is
read by more people and tools than the secret should be.
"""

from typing import Any

import attrs

#: The resource Exchange Online's SMTP AUTH accepts tokens for.
DEFAULT_SCOPE = "https://outlook.office365.com/.default"
#: Where Microsoft Entra ID issues tokens, before the tenant's id.
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


def _refuse_secret(_inst: object, _attribute: "attrs.Attribute[Any]", value: object) -> None:
    if value is not None:
        # The sentence never repeats the value.
        raise ValueError(
            "client_secret does not belong in the configuration: name an environment "
            "variable with client_secret_env, or a file with client_secret_file"
        )


@attrs.frozen(kw_only=True)
class OAuthConfig:
    """``[smtp.oauth]``: used when ``[smtp] auth = "xoauth2"``."""

    #: ``msal`` (Microsoft Entra ID, app-only), ``command`` (a site's own
    #: token broker), or a name a plugin registers.
    provider: str = "msal"
    #: msal: the directory (tenant) id of the app registration.
    tenant_id: str | None = None
    #: msal: the application (client) id.
    client_id: str | None = None
    #: msal: the environment variable that holds the client secret.
    client_secret_env: str | None = None
    #: msal: a file whose content (surrounding whitespace removed) is the client secret.
    client_secret_file: str | None = None
    #: msal: a PEM file with the certificate's private key, instead of a secret.
    certificate_file: str | None = None
    #: msal: the certificate's SHA-1 thumbprint in hex, as the portal shows it.
    thumbprint: str | None = None
    #: msal: what the token is for.
    scope: str = DEFAULT_SCOPE
    #: msal: the token issuer; ``https://login.microsoftonline.com/<tenant_id>``
    #: when unset. Set it for a national cloud.
    authority: str | None = None
    #: command: the program and its arguments; it prints a token or JSON.
    command: tuple[str, ...] = ()
    #: Refused when set: see the module's docstring.
    client_secret: str | None = attrs.field(default=None, repr=False, validator=_refuse_secret)

    def authority_url(self) -> str:
        """The authority msal is given."""
        if self.authority:
            return self.authority.rstrip("/")
        return f"{DEFAULT_AUTHORITY_HOST}/{self.tenant_id}"
