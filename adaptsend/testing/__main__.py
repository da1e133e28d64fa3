"""Run a ThrottlingSMTPServer in its own process, for demos and benchmarks.

Prints ``host:port`` once accepting, then serves until SIGINT or SIGTERM and
prints the statistics as one JSON line on the way out; SIGUSR1 prints them
without stopping. POSIX only (it waits for signals with ``sigwait``).
Outages given by ``--outages`` come due on timers of their own.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import ssl
import sys
import threading
from collections.abc import Iterator, Sequence

import click

from adaptsend._models import Stage
from adaptsend.testing._options import (
    DEFAULT_GREETING_REFUSAL,
    DEFAULT_THROTTLE_REPLY,
    HOOK_STAGES,
)
from adaptsend.testing._server import ThrottlingSMTPServer

_STAGE_CHOICE = click.Choice(sorted(stage.value for stage in HOOK_STAGES))
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def parse_limit(text: str) -> int | None:
    """``"3"`` -> 3; ``"none"`` or ``"-"`` -> None (unlimited)."""
    if text.strip().lower() in {"none", "-", "inf", "unlimited"}:
        return None
    value = int(text)
    if value < 0:
        raise ValueError(f"a limit cannot be negative: {text}")
    return value


def parse_schedule(text: str) -> tuple[tuple[float, int | None], ...]:
    """``"0:6,2:2,4:none"`` -> ((0.0, 6), (2.0, 2), (4.0, None))."""
    entries = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        at, sep, limit = item.partition(":")
        if not sep:
            raise ValueError(f"schedule entries are SECONDS:LIMIT, not {item!r}")
        entries.append((float(at), parse_limit(limit)))
    return tuple(entries)


def parse_outages(text: str) -> tuple[tuple[float, float], ...]:
    """``"5:2, 20:0.5"`` -> ((5.0, 2.0), (20.0, 0.5)): down at 5 s for 2 s, ..."""
    outages = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        at, sep, seconds = item.partition(":")
        if not sep:
            raise ValueError(f"outages are AT:SECONDS, not {item!r}")
        outage = (float(at), float(seconds))
        if min(outage) < 0:
            raise ValueError(f"an outage cannot be negative: {item!r}")
        outages.append(outage)
    return tuple(outages)


def _parse_pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, reply = value.partition("=")
        if not sep:
            raise click.BadParameter(f"expected ADDRESS=REPLY, not {value!r}", param_hint=what)
        pairs[key.strip()] = reply.strip()
    return pairs


def _tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@contextlib.contextmanager
def _outages(
    server: ThrottlingSMTPServer, outages: Sequence[tuple[float, float]]
) -> Iterator[None]:
    """Take the server down for each outage when it comes due."""

    def go_down(seconds: float) -> None:
        # An outage due as the server stops finds it stopped: nothing to do.
        with contextlib.suppress(RuntimeError):
            server.down_for(seconds)

    timers = [threading.Timer(at, go_down, args=(seconds,)) for at, seconds in outages]
    for timer in timers:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()


def _serve(server: ThrottlingSMTPServer, outages: Sequence[tuple[float, float]]) -> None:
    watched = _STOP_SIGNALS | {signal.SIGUSR1}
    # Blocked before the server thread starts so that it inherits the mask and
    # every signal reaches sigwait below, never a handler in some other thread.
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    with server, _outages(server, outages):
        click.echo(f"{server.host}:{server.port}")
        sys.stdout.flush()
        while signal.sigwait(watched) not in _STOP_SIGNALS:
            click.echo(server.statistics().to_json())
            sys.stdout.flush()
    click.echo(server.statistics().to_json())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--limit", default="none", show_default=True, help="Max concurrent connections.")
@click.option("--schedule", default="", help='Limit changes, e.g. "0:6,2:2,4:4" (seconds:limit).')
@click.option("--throttle-stage", type=_STAGE_CHOICE, default="data", show_default=True)
@click.option("--throttle-reply", default=DEFAULT_THROTTLE_REPLY)
@click.option("--keep-open", is_flag=True, help="Do not close a connection after throttling it.")
@click.option("--latency-ms", type=float, default=0.0, help="Delay before answering DATA.")
@click.option("--jitter-ms", type=float, default=0.0, help="Extra random delay, up to this.")
@click.option("--rcpt-reply", multiple=True, help="ADDRESS=REPLY, repeatable.")
@click.option("--data-reply", default=None, help="Reply to every end of DATA.")
@click.option("--auth", default=None, help="USER:PASSWORD that AUTH must match.")
@click.option("--auth-reply", default=None, help="Failure reply to every AUTH.")
@click.option(
    "--xoauth2",
    multiple=True,
    help="USER:TOKEN that AUTH XOAUTH2 takes (only that token for that user), repeatable.",
)
@click.option(
    "--drop-every",
    type=int,
    default=None,
    help="Drop every N-th end of DATA, without a reply and without delivering.",
)
@click.option("--stall-ms", type=float, default=0.0, help="Stall this long at --stall-stage.")
@click.option("--stall-stage", type=_STAGE_CHOICE, default="data", show_default=True)
@click.option("--tls-cert", default=None, help="PEM certificate (chain) to offer STARTTLS.")
@click.option("--tls-key", default=None, help="PEM key, if not inside --tls-cert.")
@click.option("--pipelining", is_flag=True, help="Offer PIPELINING in the EHLO reply.")
@click.option("--chunking", is_flag=True, help="Offer CHUNKING (BDAT) in the EHLO reply.")
@click.option(
    "--hang-up-after",
    type=int,
    default=None,
    help="Once a connection has had N messages accepted, hang up at its next command.",
)
@click.option(
    "--hang-up-reply",
    default=None,
    help="Answer that command with this line first (default: hang up without a word).",
)
@click.option(
    "--cut-content-every",
    type=int,
    default=None,
    help="Reset the connection in the middle of every N-th message's content "
    "(DATA or BDAT); that message is not delivered.",
)
@click.option(
    "--lose-reply-every",
    type=int,
    default=None,
    help="Deliver every N-th accepted message, then reset instead of replying: "
    "delivered, but the client cannot know it.",
)
@click.option(
    "--lose-reply-stall-ms",
    type=float,
    default=0.0,
    help="With --lose-reply-every: withhold the reply this long, then close, "
    "instead of resetting at once.",
)
@click.option(
    "--refuse-greeting-every",
    type=int,
    default=None,
    help="Answer the greeting of every N-th connection with --greeting-refusal and close.",
)
@click.option("--refuse-greetings", is_flag=True, help="Refuse the greeting of every connection.")
@click.option(
    "--greeting-refusal",
    default=DEFAULT_GREETING_REFUSAL,
    show_default=True,
    help="The reply to a refused greeting.",
)
@click.option(
    "--greeting-delay-ms", type=float, default=0.0, help="Wait this long before each greeting."
)
@click.option(
    "--reset-tls-every",
    type=int,
    default=None,
    help="Answer every N-th STARTTLS with 220, then reset before the TLS handshake.",
)
@click.option(
    "--outages",
    default="",
    help="Go down (refuse connects, reset open connections) and come back on the same "
    'port, e.g. "5:2,20:0.5" (down at 5 s for 2 s, at 20 s for 0.5 s; seconds from start).',
)
def main(
    host: str,
    port: int,
    limit: str,
    schedule: str,
    throttle_stage: str,
    throttle_reply: str,
    keep_open: bool,
    latency_ms: float,
    jitter_ms: float,
    rcpt_reply: tuple[str, ...],
    data_reply: str | None,
    auth: str | None,
    auth_reply: str | None,
    xoauth2: tuple[str, ...],
    drop_every: int | None,
    stall_ms: float,
    stall_stage: str,
    tls_cert: str | None,
    tls_key: str | None,
    pipelining: bool,
    chunking: bool,
    hang_up_after: int | None,
    hang_up_reply: str | None,
    cut_content_every: int | None,
    lose_reply_every: int | None,
    lose_reply_stall_ms: float,
    refuse_greeting_every: int | None,
    refuse_greetings: bool,
    greeting_refusal: str,
    greeting_delay_ms: float,
    reset_tls_every: int | None,
    outages: str,
) -> None:
    """Run an SMTP server that throttles like Microsoft 365, until SIGINT/SIGTERM."""
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    credentials = None
    if auth is not None:
        user, _, password = auth.partition(":")
        credentials = (user, password)
    try:
        server = ThrottlingSMTPServer(
            host=host,
            port=port,
            limit=parse_limit(limit),
            schedule=parse_schedule(schedule),
            throttle_stage=Stage(throttle_stage),
            throttle_reply=throttle_reply,
            close_after_throttle=not keep_open,
            latency_s=latency_ms / 1000,
            latency_jitter_s=jitter_ms / 1000,
            rcpt_replies=_parse_pairs(rcpt_reply, "--rcpt-reply"),
            data_reply=data_reply,
            auth=credentials,
            auth_reply=auth_reply,
            xoauth2_tokens=dict(item.partition(":")[::2] for item in xoauth2),
            drop_after_data=drop_every,
            stall_s=stall_ms / 1000,
            stall_stage=Stage(stall_stage),
            tls_context=_tls_context(tls_cert, tls_key),
            pipelining=pipelining,
            chunking=chunking,
            hang_up_after=hang_up_after,
            hang_up_reply=hang_up_reply,
            cut_content_every=cut_content_every,
            lose_reply_every=lose_reply_every,
            lose_reply_stall_s=lose_reply_stall_ms / 1000,
            refuse_greeting_every=refuse_greeting_every,
            refuse_greetings=refuse_greetings,
            greeting_refusal=greeting_refusal,
            greeting_delay_s=greeting_delay_ms / 1000,
            reset_tls_every=reset_tls_every,
        )
        planned_outages = parse_outages(outages)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _serve(server, planned_outages)


if __name__ == "__main__":
    main()
