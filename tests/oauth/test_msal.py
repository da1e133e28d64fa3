"""msal against a real token endpoint on 127.0.0.1 over HTTPS (a trustme CA):
the exact form it posts for a client secret and for a certificate, the token
then used in AUTH XOAUTH2, and an Entra ID refusal in one sentence."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adaptsend import Message, config_from_dict, send_batch_async
from adaptsend._errors import ConfigError
from adaptsend.agent._agent import Agent
from adaptsend.cli._common import exit_code
from adaptsend.config._oauth import OAuthConfig
from adaptsend.config._redact import REDACTED
from adaptsend.oauth._msal import MSALTokenProvider
from adaptsend.oauth._tokens import TokenError
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
SECRET = "client~secret.value-0123456789"
TOKEN = "eyJ0eXAiOiJKV1QifQ.access-token-from-entra"
USER = "reports@example.com"
SCOPE = "https://outlook.office365.com/.default"


class TokenEndpoint:
    """Entra ID's two endpoints msal needs: the tenant's OpenID configuration
    and its token endpoint, which records each form posted to it."""

    def __init__(self, ca: trustme.CA, *, refuse: bool = False) -> None:
        self.forms: list[dict[str, str]] = []
        self.refuse = refuse
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.authority = f"https://127.0.0.1:{self._server.server_address[1]}/{TENANT}"
        self.token_url = f"{self.authority}/oauth2/v2.0/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if method == "GET" and path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            return 200, {
                "issuer": f"{self.authority}/v2.0",
                "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
                "token_endpoint": self.token_url,
            }
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/token":
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
            self.forms.append({key: values[0] for key, values in form.items()})
            if self.refuse:
                return 401, {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.\r\n"
                    "Trace ID: 0000",
                }
            return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}
        return 404, {"error": "not_found"}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply("GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self._reply("POST", self.rfile.read(length))

            def _reply(self, method: str, body: bytes) -> None:
                status, answer = endpoint._answer(method, self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A CA that msal's own HTTP client trusts (requests reads the bundle
    from the environment), with no proxy between it and 127.0.0.1."""
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return authority


@pytest.fixture
def endpoint(ca: trustme.CA) -> Iterator[TokenEndpoint]:
    with TokenEndpoint(ca) as running:
        yield running


def oauth(endpoint: TokenEndpoint, **settings: Any) -> dict[str, Any]:
    return {
        "provider": "msal",
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "authority": endpoint.authority,
        **settings,
    }


def message() -> Message:
    return Message(sender=USER, to=("to@example.com",), subject="s", text="t")


async def test_a_client_secret_gets_a_token_that_logs_in_and_delivers(
    endpoint: TokenEndpoint, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("M365_SECRET", SECRET)
    with ThrottlingSMTPServer(xoauth2_tokens={USER: TOKEN}) as server:
        settings = oauth(endpoint, client_secret_env="M365_SECRET")
        config = make_config(server, smtp={"username": USER, "auth": "xoauth2", "oauth": settings})
        report = await send_batch_async([message()], config=config)

    assert exit_code(report.run) == 0
    assert server.delivered == 1
    assert server.xoauth2_logins == [(USER, TOKEN, True)]
    assert endpoint.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "scope": SCOPE,
            "client_secret": SECRET,
            "client_info": "1",
        }
    ]


def test_a_certificate_signs_a_client_assertion_instead(
    endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "adaptsend")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings = OAuthConfig(**oauth(endpoint, certificate_file=str(pem), thumbprint=thumbprint))

    token = MSALTokenProvider(settings, timeout_s=10).fetch()

    assert (token.value, token.expires_in_s) == (TOKEN, 3599.0)
    [form] = endpoint.forms
    assertion = form.pop("client_assertion")
    assert form == {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "scope": SCOPE,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_info": "1",
    }
    claims = jwt.decode(
        assertion, key.public_key(), algorithms=["RS256"], audience=endpoint.token_url
    )
    assert (claims["iss"], claims["sub"]) == (CLIENT, CLIENT)
    # The certificate msal signed with, named by its SHA-1 thumbprint.
    x5t = jwt.get_unverified_header(assertion)["x5t"]
    digest = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert base64.urlsafe_b64decode(x5t + "=" * (-len(x5t) % 4)) == digest


async def test_a_refused_secret_stops_the_run_in_one_sentence_without_it(
    ca: trustme.CA, make_config: MakeConfig, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    with (
        TokenEndpoint(ca, refuse=True) as endpoint,
        ThrottlingSMTPServer(xoauth2_tokens={USER: TOKEN}) as server,
    ):
        settings = oauth(endpoint, client_secret_file=str(secret_file))
        config = make_config(server, smtp={"username": USER, "auth": "xoauth2", "oauth": settings})
        report = await send_batch_async([message()], config=config)

    assert exit_code(report.run) == 3
    assert report.run.fatal is not None
    assert report.run.fatal.text == (
        f"{endpoint.authority} refused the token request "
        "(invalid_client: AADSTS7000215: Invalid client secret provided.)"
    )
    assert endpoint.forms[0]["client_secret"] == SECRET  # read from the file, stripped
    assert server.xoauth2_logins == []


def test_an_unreachable_issuer_is_not_fatal(ca: trustme.CA) -> None:
    with TokenEndpoint(ca) as endpoint:
        authority = endpoint.authority
    settings = OAuthConfig(
        tenant_id=TENANT, client_id=CLIENT, authority=authority, client_secret_env="HOME"
    )
    with pytest.raises(TokenError, match="could not be reached") as caught:
        MSALTokenProvider(settings, timeout_s=2).fetch()
    assert caught.value.fatal is False


def test_the_client_secret_is_hidden_by_the_agent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("M365_SECRET", SECRET)
    config = config_from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'a.db'}"},
            "smtp": {
                "username": USER,
                "auth": "xoauth2",
                "oauth": {
                    "tenant_id": TENANT,
                    "client_id": CLIENT,
                    "client_secret_env": "M365_SECRET",
                },
            },
        }
    )
    with Agent(config) as agent:
        assert agent.redactor.text(f"echo {SECRET}") == f"echo {REDACTED}"


def test_a_client_secret_in_the_configuration_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"smtp": {"oauth": {"client_secret": SECRET}}})
    assert SECRET not in str(caught.value)
    assert "client_secret does not belong in the configuration" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({"client_id": CLIENT, "client_secret_env": "X"}, "needs tenant_id"),
        ({"tenant_id": TENANT, "client_secret_env": "X"}, "needs client_id"),
        ({"tenant_id": TENANT, "client_id": CLIENT}, "exactly one of .* not none"),
        (
            {
                "tenant_id": TENANT,
                "client_id": CLIENT,
                "client_secret_env": "X",
                "certificate_file": "k.pem",
            },
            "not client_secret_env and certificate_file",
        ),
        (
            {"tenant_id": TENANT, "client_id": CLIENT, "certificate_file": "k.pem"},
            "needs the certificate's thumbprint",
        ),
        (
            {"tenant_id": TENANT, "client_id": CLIENT, "client_secret_env": "UNSET_SECRET_VAR"},
            "names UNSET_SECRET_VAR, which is not set or empty",
        ),
        (
            {"tenant_id": TENANT, "client_id": CLIENT, "client_secret_file": "/nonexistent/s"},
            "client_secret_file /nonexistent/s cannot be read",
        ),
    ],
)
def test_msal_settings_are_checked_when_the_agent_is_made(
    settings: dict[str, str], sentence: str, tmp_path: Path
) -> None:
    config = config_from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'a.db'}"},
            "smtp": {"username": USER, "auth": "xoauth2", "oauth": settings},
        }
    )
    with pytest.raises(ConfigError, match=sentence):
        Agent(config)


def test_xoauth2_needs_a_username() -> None:
    with pytest.raises(ConfigError, match='auth = "xoauth2" needs a username'):
        config_from_dict({"smtp": {"auth": "xoauth2"}})
