"""The planted-secret test: a distinctive value in every secret setting, a
server and a webhook that echo them back, and every command a person runs.
The secret must show nowhere: not in what the commands print, not in any log
line, not in any row of any table, not in what the alert sinks receive."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from adaptsend.cli._main import cli
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers import databases

USER = "reports@example.com"
SMTP_PASSWORD = "smtp-pw-4d9f1c-PLANTED"
STORE_PASSWORD = "store-pw-77ab31-PLANTED"
WEBHOOK_TOKEN = "hook-tok-0e5a92-PLANTED"
#: What AUTH PLAIN sends: a server that echoes it echoes the password.
AUTH_PLAIN = base64.b64encode(f"\0{USER}\0{SMTP_PASSWORD}".encode()).decode()
ECHO = f"{SMTP_PASSWORD} {STORE_PASSWORD} {WEBHOOK_TOKEN} {AUTH_PLAIN}"
#: Every form in which a planted secret could leak (the store's password
#: only where the store URL holds it: a SQLite file has none).
FORBIDDEN = (
    SMTP_PASSWORD,
    WEBHOOK_TOKEN,
    AUTH_PLAIN.rstrip("="),
    base64.b64encode(SMTP_PASSWORD.encode()).decode().rstrip("="),
)


class EchoWebhook:
    """An HTTP receiver that records each body and refuses it with an error
    that quotes the URL it was posted to, whole and URL-quoted."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(self.rfile.read(length).decode())
                quoted = urllib.parse.quote(self.path, safe="")
                answer = f"no such hook {self.path} ({quoted}) token {WEBHOOK_TOKEN}".encode()
                self.send_response(400)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/{WEBHOOK_TOKEN}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> EchoWebhook:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def planted_store_url(param: str, tmp_path: Path) -> str:
    """The store's URL with the planted password. A server database that
    trusts local connections ignores it; one that needs its own keeps it
    (then that password is the one that must not show)."""
    if param == databases.SQLITE:
        return f"sqlite:///{tmp_path / 'adaptsend.db'}"
    url = sa.make_url(databases.ready_database(param, tmp_path))
    if url.password is None:
        url = url.set(password=STORE_PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=[databases.SQLITE, *databases.SERVER_URLS[:1]], ids=databases.name)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield planted_store_url(request.param, tmp_path)
    if request.param != databases.SQLITE:
        databases.wipe(request.param)


def write_config(tmp_path: Path, store_url: str, server: ThrottlingSMTPServer) -> Path:
    path = tmp_path / "adaptsend.toml"
    path.write_text(
        f"""
[store]
url = {json.dumps(store_url)}
[smtp]
host = "{server.host}"
port = {server.port}
username = "{USER}"
password = "{SMTP_PASSWORD}"
timeout_s = 10
[retry]
max_attempts = 2
base_delay_s = 0.01
max_delay_s = 0.02
[alerts]
sinks = ["log", "webhook"]
drain_s = 5
[plugin.webhook]
url_env = "ALERT_WEBHOOK_URL"
attempts = 1
"""
    )
    return path


def invoke(config: Path, webhook: EchoWebhook, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["--config", str(config), "-vv", *args],
        input=stdin,
        env={"ALERT_WEBHOOK_URL": webhook.url, "ADAPTSEND_CONFIG": ""},
    )


def jsonl(*recipients: tuple[str, ...]) -> str:
    return "\n".join(
        json.dumps({"from": USER, "to": list(to), "subject": "s", "text": "t"}) for to in recipients
    )


def every_row(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return [
                repr(tuple(row))
                for name in names
                for row in conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            ]
    finally:
        engine.dispose()


def test_a_planted_secret_shows_nowhere(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[Result] = []
    with EchoWebhook() as webhook:
        # First a server that echoes the secrets at RCPT and at end of DATA:
        # the messages are retried, then dead, and alerts go out.
        echoing = ThrottlingSMTPServer(
            auth=(USER, SMTP_PASSWORD),
            data_reply=f"451 4.3.0 your password is {ECHO}",
            rcpt_replies={"refused@example.com": f"550 5.1.1 not {ECHO}"},
        )
        with echoing as server:
            config = write_config(tmp_path, store_url, server)
            stdin = jsonl(("a@example.com",), ("refused@example.com",))
            outputs.append(invoke(config, webhook, "enqueue", "--jsonl", "-", stdin=stdin))
            outputs.append(invoke(config, webhook, "run"))
        assert outputs[-1].exit_code == 1, outputs[-1].output
        # Then one that echoes them in its refusal of AUTH: a fatal reply.
        with ThrottlingSMTPServer(auth_reply=f"535 5.7.8 bad password {ECHO}") as server:
            config = write_config(tmp_path, store_url, server)
            outputs.append(
                invoke(config, webhook, "enqueue", "--jsonl", "-", stdin=jsonl(("c@example.com",)))
            )
            outputs.append(invoke(config, webhook, "run"))
            assert outputs[-1].exit_code == 3, outputs[-1].output
            assert "stopped: 535 5.7.8 bad password [redacted]" in outputs[-1].output
            outputs.append(invoke(config, webhook, "run", "--json"))
            assert outputs[-1].exit_code == 3, outputs[-1].output
            outputs.append(invoke(config, webhook, "status"))
            outputs.append(invoke(config, webhook, "status", "--json"))
            page = tmp_path / "report.html"
            outputs.append(invoke(config, webhook, "report", "--html", str(page)))
            outputs.append(invoke(config, webhook, "report", "--json"))
            assert outputs[-1].exit_code == 0, outputs[-1].output
            outputs.append(invoke(config, webhook, "alerts", "test", "--sink", "webhook"))
        assert outputs[-1].exit_code == 1
        assert "webhook: FAILED" in outputs[-1].output

    rows = every_row(store_url)
    store_password = sa.make_url(store_url).password
    forbidden = (*FORBIDDEN, *([str(store_password)] if store_password else []))
    texts = [
        *(r.output for r in outputs),
        *(r.stderr for r in outputs),
        caplog.text,
        *(repr(record.__dict__) for record in caplog.records),
        *rows,
        *webhook.bodies,
        page.read_text(),
    ]
    # The echoes did arrive, and were redacted where they landed.
    assert any("your password is [redacted]" in row for row in rows)
    assert any("550, '5.1.1', 'not [redacted]" in row for row in rows)
    assert any("bad password [redacted]" in body for body in webhook.bodies)
    assert "no such hook" in caplog.text
    for text in texts:
        for secret in forbidden:
            assert secret not in text
