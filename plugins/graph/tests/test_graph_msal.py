"""``provider = "msal"`` in ``[plugin.graph.oauth]``: adaptsend's own msal
provider asks a real token endpoint (HTTPS on 127.0.0.1, a trustme CA) for
Graph's scope, and the token it gets is the bearer Graph sees."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import MakeConfig

from adaptsend import Message, send_batch_async
from adaptsend.testing import FakeGraphServer

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
SECRET = "graph~secret.value-0123456789"
TOKEN = "eyJ0eXAiOiJKV1QifQ.graph-token-from-entra"


class Issuer:
    """The two endpoints of a tenant that msal asks: its OpenID
    configuration, and its token endpoint, which keeps each form posted."""

    def __init__(self, ca: trustme.CA) -> None:
        self.forms: list[dict[str, str]] = []
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._json(issuer.answer("GET", self.path, b""))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._json(issuer.answer("POST", self.path, body))

            def _json(self, value: dict[str, Any]) -> None:
                data = json.dumps(value).encode()
                self.send_response(200 if value else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.authority = f"https://127.0.0.1:{self._server.server_address[1]}/{TENANT}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(self, method: str, path: str, body: bytes) -> dict[str, Any]:
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            return {
                "issuer": f"{self.authority}/v2.0",
                "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
            }
        if method == "POST" and path.endswith("/oauth2/v2.0/token"):
            form = urllib.parse.parse_qs(body.decode())
            self.forms.append({key: values[0] for key, values in form.items()})
            return {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}
        return {}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    # msal's HTTP client (requests) trusts the bundle the environment names.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    running = Issuer(ca)
    yield running
    running.close()


async def test_msal_asks_for_graphs_scope_and_graph_sees_its_token(
    issuer: Issuer, graph_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAPH_SECRET", SECRET)
    oauth = {
        "provider": "msal",
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret_env": "GRAPH_SECRET",
        "authority": issuer.authority,
    }
    with FakeGraphServer(tokens=[TOKEN]) as graph:
        config = graph_config(graph, graph_settings={"oauth": oauth})
        message = Message(sender="reports@contoso.com", to="a@contoso.com", text="t")
        report = await send_batch_async([message], config=config)

    assert report.ok
    assert issuer.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            # The fake Graph's own resource: Graph's scope at its host.
            "scope": f"{graph.url}/.default",
            "client_secret": SECRET,
            "client_info": "1",
        }
    ]
    [request] = graph.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
