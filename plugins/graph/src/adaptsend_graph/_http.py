"""Requests to Graph: one httpx client per transport, the bearer token (a
``401`` refreshes it once), the server's ``Retry-After``, and every way a
request can fail, told apart by how much of it went out.

Blocking: called in the worker threads adaptsend gives the transport. The
sync client rather than httpx's async one: a send has side effects and is
never abandoned when the run is cancelled, and in a thread it runs to its
end and is recorded, as an SMTP send is; one client (and its pool of
connections) serves every thread.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import json
import math
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from adaptsend import TokenCache
from adaptsend_graph._settings import GraphSettings

#: The most of an error message that is kept.
_QUOTE = 300


@attrs.frozen(kw_only=True)
class Answer:
    """An HTTP answer, with Graph's error code and message when it gave them."""

    status: int
    code: str = ""
    message: str = ""
    #: The server's ``Retry-After``, in seconds from when it came.
    retry_after_s: float | None = None
    #: The body, when it is a JSON object.
    data: Mapping[str, Any] | None = None


class Failure(enum.Enum):
    """How a request failed without an answer."""

    #: Nothing went out: the server could not be reached (DNS, refused, timeout).
    UNREACHABLE = "unreachable"
    #: The server's TLS certificate could not be verified.
    CERTIFICATE = "certificate"
    #: Cut while it was being written: the server cannot have acted on it.
    CUT = "cut"
    #: Written in full and no answer came (a timeout, a reset): it may have
    #: been acted on.
    NO_ANSWER = "no answer"
    #: The client's own trouble (no free connection in time).
    LOCAL = "local"


@attrs.frozen(kw_only=True)
class NetworkFailure:
    kind: Failure
    #: One sentence, without the URL (an upload URL holds a token).
    text: str


class RetryAfterGate:
    """The server's pause as the transport knows it, shared by its threads.

    adaptsend pauses the whole sending key on a ``Retry-After``; this keeps
    the requests that are past that pause already (the later steps of a large
    message, a send that set out as the refusal came back) from going out
    inside it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Block until no pause is in force."""
        while (left := self._until - time.monotonic()) > 0:
            time.sleep(left)


class GraphHTTP:
    """The transport's client; every method blocks."""

    def __init__(self, settings: GraphSettings) -> None:
        self.settings = settings
        self.gate = RetryAfterGate()
        #: The latest request found the server out of reach: the next
        #: connection probes first (see :meth:`reachable`).
        self.unreachable = False
        verify: ssl.SSLContext | bool = True
        if settings.ca_file:
            verify = ssl.create_default_context(cafile=settings.ca_file)
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s), verify=verify, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    def call(
        self,
        method: str,
        url: str,
        *,
        tokens: TokenCache | None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Answer | NetworkFailure:
        """One request, after any pause in force; with a bearer token from
        ``tokens`` (None: the URL carries its own, as an upload URL does).
        A ``401`` is tried once more with a fresh token. Raises TokenError."""
        self.gate.wait()
        sent = dict(headers or {})
        token = tokens.token() if tokens is not None else None
        outcome = self._once(method, url, body, sent, token)
        if tokens is not None and token is not None and _is_status(outcome, 401):
            # The token may have gone stale (revoked, or the clock moved on).
            token = tokens.refresh(token)
            outcome = self._once(method, url, body, sent, token)
        if tokens is not None and isinstance(outcome, Answer) and outcome.status < 400:
            tokens.accept()
        return outcome

    def reachable(self) -> str | None:
        """After a request found the server out of reach, whether it can be
        reached again: None if so, else why not. A ``HEAD`` of ``base_url``
        without a token, by the same way as every request (proxy, TLS): any
        answer will do, and it is about no mailbox, so no limit counts it."""
        try:
            self._client.request("HEAD", self.settings.base_url)
        except httpx.HTTPError as exc:
            failure = _failure(exc, self.settings)
            if failure.kind is Failure.UNREACHABLE:
                return failure.text
        self.unreachable = False
        return None

    def _once(
        self, method: str, url: str, body: bytes, headers: dict[str, str], token: str | None
    ) -> Answer | NetworkFailure:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            failure = _failure(exc, self.settings)
            self.unreachable = failure.kind is Failure.UNREACHABLE
            return failure
        self.unreachable = False
        answer = _answer(response)
        if answer.retry_after_s is not None and answer.status in (429, 503):
            self.gate.hold(answer.retry_after_s)
        return answer


def _is_status(outcome: Answer | NetworkFailure, status: int) -> bool:
    return isinstance(outcome, Answer) and outcome.status == status


def _answer(response: httpx.Response) -> Answer:
    data: Any = None
    if response.content:
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
    error = data.get("error") if isinstance(data, dict) else None
    code = message = ""
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        message = " ".join(str(error.get("message") or "").split())[:_QUOTE]
    return Answer(
        status=response.status_code,
        code=code,
        message=message,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        data=data if isinstance(data, dict) else None,
    )


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds (Graph's form) or an
    HTTP date; None when absent or not understood."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _failure(exc: httpx.HTTPError, settings: GraphSettings) -> NetworkFailure:
    host = settings.root.hostname
    detail = _cause(exc)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        if _certificate_error(exc):
            text = f"the certificate of {host} could not be verified ({detail})"
            return NetworkFailure(kind=Failure.CERTIFICATE, text=text)
        return NetworkFailure(kind=Failure.UNREACHABLE, text=f"cannot reach {host}: {detail}")
    if isinstance(exc, httpx.WriteError | httpx.WriteTimeout):
        text = f"the request to {host} was cut while being sent ({detail})"
        return NetworkFailure(kind=Failure.CUT, text=text)
    if isinstance(exc, httpx.ReadTimeout):
        text = f"{host} gave no answer within {settings.timeout_s:g} s to the whole request"
        return NetworkFailure(kind=Failure.NO_ANSWER, text=text)
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError):
        text = f"{host} closed the connection after the whole request, before an answer ({detail})"
        return NetworkFailure(kind=Failure.NO_ANSWER, text=text)
    return NetworkFailure(kind=Failure.LOCAL, text=f"the request to {host} failed: {detail}")


def _certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cause(exc: httpx.HTTPError) -> str:
    # httpx's own text can quote the URL, and an upload URL holds a token.
    root = exc.__cause__ or exc.__context__
    text = str(root) if root is not None else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
