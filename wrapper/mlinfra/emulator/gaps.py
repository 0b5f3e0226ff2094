"""A moto 5xx is a gap in the emulator: answer it as a client error that names the request.

Real AWS answers 5xx only when it is in trouble, so SDKs retry them: the aws provider for many
minutes. moto answers 5xx when it has a bug or lacks an action, which no retry can fix. So every
5xx (an exception escaping moto, or a 5xx status it sets) becomes an HTTP 400 with the error
code ``MlinfraEmulatorGap`` in the wire format of the request's protocol, which no SDK retries:
Terraform fails at once, naming the service, the action and moto's exception.

Each gap is one line on stderr (the emulator log) that keeps moto's status visible
(``"POST / HTTP/1.1" 500``) and is kept in a :class:`GapLog` that the control route
``GET /_mlinfra/gaps`` lists.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, TextIO
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

GAP_CODE = "MlinfraEmulatorGap"
GAP_STATUS = "400 Bad Request"
MAX_GAPS = 1000  # kept in memory; ``count`` keeps counting past it
MAX_DETAIL = 500  # characters of moto's exception (or 5xx body) carried in an answer
# Services whose REST protocol answers errors in XML (the others' REST protocol is JSON).
REST_XML_SERVICES = frozenset({"s3", "s3control", "route53", "cloudfront"})
_DESCRIBED_KEY = "mlinfra.request"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Gap:
    """One request moto answered with a 5xx."""

    seq: int
    status: int
    service: str
    action: str
    exception: str
    where: str
    request_line: str
    time: float

    def summary(self) -> str:
        where = f" at {self.where}" if self.where else ""
        return (
            f"moto answered HTTP {self.status} to {self.service} {self.action}: "
            f"{self.exception}{where}"
        )


class GapLog:
    """The gaps one emulator met, in order; safe to share between request threads."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._lock = threading.Lock()
        self._gaps: list[Gap] = []
        self._count = 0
        self._stream = stream

    def record(
        self, status: int, service: str, action: str, exception: str, where: str, line: str
    ) -> Gap:
        with self._lock:
            gap = Gap(self._count, status, service, action, exception, where, line, time.time())
            self._count += 1
            self._gaps.append(gap)
            del self._gaps[:-MAX_GAPS]
        stream = self._stream or sys.stderr
        # NOTE: one line with the original status: the before-stop hook greps 'HTTP/1.1" 5'.
        stamp = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(gap.time))
        stream.write(
            f'127.0.0.1 - - [{stamp}] "{line}" {status} - mlinfra gap: {gap.summary()}; '
            f"answered {GAP_STATUS[:3]} {GAP_CODE}\n"
        )
        stream.flush()
        return gap

    def since(self, seq: int = 0) -> dict[str, Any]:
        """``{"count": N, "gaps": [...]}``: every kept gap numbered ``seq`` or later."""
        with self._lock:
            return {
                "count": self._count,
                "gaps": [asdict(gap) for gap in self._gaps if gap.seq >= seq],
            }


@dataclass(frozen=True)
class _Request:
    service: str
    action: str
    protocol: str  # json | query | ec2 | rest-xml | s3 | rest-json
    line: str


def _service(environ: dict[str, Any]) -> str:
    # SigV4: Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return str(auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]).lower()
    except IndexError:
        return ""


def _form_action(environ: dict[str, Any]) -> str:
    """The query protocol's ``Action``; the body is put back for moto to read."""
    content_type = str(environ.get("CONTENT_TYPE", ""))
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qs(str(environ.get("QUERY_STRING", ""))).get("Action", [""])[0]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    return fields.get("Action", [""])[0]


def describe_request(environ: dict[str, Any]) -> _Request:
    """Service, action and protocol of a request, from what every SDK sends; worked out once
    per request (the query protocol's action is in the body) and kept in the environ for the
    other layers."""
    described: _Request | None = environ.get(_DESCRIBED_KEY)
    if described is None:
        described = environ[_DESCRIBED_KEY] = _describe(environ)
    return described


def _describe(environ: dict[str, Any]) -> _Request:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    query = environ.get("QUERY_STRING", "")
    line = f"{method} {path}{'?' + query if query else ''} {environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}"
    service = _service(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:  # JSON protocols: X-Amz-Target: <Service_Version>.<Action>
        return _Request(service or target.split(".")[0], target, "json", line)
    action = _form_action(environ)
    if action:
        return _Request(service, action, "ec2" if service == "ec2" else "query", line)
    if "/operation/" in path:  # smithy RPC v2: /service/<Service>/operation/<Action>
        return _Request(service, path.rsplit("/", 1)[-1], "json", line)
    if service in {"s3", ""}:  # moto's default service is S3
        return _Request(service or "s3", f"{method} {path}", "s3", line)
    protocol = "rest-xml" if service in REST_XML_SERVICES else "rest-json"
    return _Request(service, f"{method} {path}", protocol, line)


def error_answer(protocol: str, code: str, message: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of a client error ``code`` in ``protocol``'s wire format."""
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if protocol in {"json", "rest-json"}:
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
        return body, headers
    text, error_code = escape(message), escape(code)
    if protocol == "ec2":
        xml = (
            f"<Response><Errors><Error><Code>{error_code}</Code><Message>{text}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    elif protocol == "s3":
        xml = (
            f"<Error><Code>{error_code}</Code><Message>{text}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    else:  # query and rest-xml
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{error_code}</Code>"
            f"<Message>{text}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()
    return body, [*headers, ("Content-Type", "text/xml")]


def _where(err: BaseException) -> str:
    """The innermost frame of the exception, as ``moto/<path>:<line>``."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    filename = frame.filename
    if "/site-packages/" in filename:
        filename = filename.rsplit("/site-packages/", 1)[1]
    return f"{filename}:{frame.lineno}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def content_length(headers: list[tuple[str, str]]) -> int | None:
    """An answer's Content-Length, or None when it has none (a streamed body)."""
    for name, value in headers:
        if name.lower() == "content-length" and value.isdigit():
            return int(value)
    return None


def read_whole(body: Iterable[bytes]) -> bytes:
    """A WSGI answer's whole body, closing its iterable as a server would."""
    try:
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def with_gap_answers(moto_app: WsgiApp, gaps: GapLog) -> WsgiApp:
    """Wrap moto's WSGI app so that each 5xx it answers becomes a recorded 400 gap."""

    def answer_gap(
        request: _Request,
        start_response: Callable[..., Any],
        status: int,
        exception: str,
        where: str,
    ) -> list[bytes]:
        gap = gaps.record(status, request.service, request.action, exception, where, request.line)
        message = (
            f"mlinfra emulator gap: {gap.summary()}. Not retryable: close it with a patch in "
            "wrapper/mlinfra/emulator/patches/ (docs/emulator.md)."
        )
        body, headers = error_answer(request.protocol, GAP_CODE, message)
        start_response(GAP_STATUS, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = describe_request(environ)
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered["status"] = status
            if status.startswith("5"):
                return lambda _data: None  # the body is read from the iterable below
            return start_response(status, headers, exc_info)

        try:
            body = moto_app(environ, capture)
        except Exception as err:
            return answer_gap(
                request, start_response, 500, _short(f"{type(err).__name__}: {err}"), _where(err)
            )
        status = str(answered.get("status", ""))
        if not status.startswith("5"):
            return body
        text = read_whole(body).decode("utf-8", errors="replace")
        return answer_gap(request, start_response, int(status[:3]), _short(f"{status}: {text}"), "")

    return app
