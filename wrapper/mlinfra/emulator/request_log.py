"""The emulator log names each request: service, action, the SDK's attempt and any error code.

werkzeug logs every EC2 call as ``"POST / HTTP/1.1" 400 -``. A flake such as a CreateRoute
answered ``RouteAlreadyExists`` inside one apply cannot be read from that: was it the first
attempt, or the SDK's retry of a request whose answer it lost? So each line ends with what the
request was::

    127.0.0.1 - - [03/Dec/2026 14:28:54] "POST / HTTP/1.1" 400 - ec2 CreateRoute attempt=2 RouteAlreadyExists

``attempt=N`` comes from the ``amz-sdk-request: attempt=N; max=M`` header that the AWS SDKs
(Go, botocore) send; the error code is read from a 4xx answer's body; ``replayed`` marks a retry
answered with its first attempt's answer (:mod:`mlinfra.emulator.retries`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

from mlinfra.emulator.gaps import WsgiApp, content_length, describe_request, read_whole
from mlinfra.emulator.retries import REPLAYED_KEY

NOTE_KEY = "mlinfra.request_note"
MAX_ERROR_BODY = 64 << 10  # a 4xx answer longer than this is not read for its code
# The error code in each protocol's wire format: XML <Code> (EC2, query, S3) or JSON __type.
_XML_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_JSON_TYPE = re.compile(rb'"__type"\s*:\s*"([^"]{1,256})"')
_ATTEMPT = re.compile(r"attempt=(\d+)")


def error_code(body: bytes) -> str:
    """The error code of a client error answer, or "" when it names none."""
    if match := _XML_CODE.search(body):
        return match.group(1).decode(errors="replace")
    if match := _JSON_TYPE.search(body):
        # JSON protocols may prefix the code with a namespace: "com.amazonaws...#Code".
        return match.group(1).decode(errors="replace").rsplit("#", 1)[-1]
    return ""


def request_note(environ: dict[str, Any]) -> str:
    """``<service> <action>`` and the SDK's ``attempt=N`` when it sent one."""
    request = describe_request(environ)
    note = f"{request.service} {request.action}".strip()
    if match := _ATTEMPT.search(str(environ.get("HTTP_AMZ_SDK_REQUEST", ""))):
        note += f" attempt={match.group(1)}"
    return note


def with_request_notes(app: WsgiApp) -> WsgiApp:
    """Wrap ``app`` so that each request leaves its note in the environ for the log line."""

    def noted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        note = request_note(environ)
        environ[NOTE_KEY] = note
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.update(status=status, length=content_length(headers))
            return start_response(status, headers, exc_info)

        body = app(environ, capture)
        if environ.get(REPLAYED_KEY):
            note = environ[NOTE_KEY] = f"{note} replayed"
        length: int | None = answered.get("length")
        small = length is not None and length <= MAX_ERROR_BODY
        if not (str(answered.get("status", "")).startswith("4") and small):
            return body
        data = read_whole(body)
        if code := error_code(data):
            environ[NOTE_KEY] = f"{note} {code}"
        return [data]

    return noted


class NotingRequestHandler(MotoRequestHandler):
    """moto's request handler, whose log line ends with the request's note."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        environ: dict[str, Any] = getattr(self, "environ", {})
        note = environ.get(NOTE_KEY, "")
        # NOTE: werkzeug formats the line as '"<request line>" <code> <size>'; the note goes
        # after the size so that the status stays where the before-stop hook greps for it.
        super().log_request(code, f"{size} {note}" if note else size)
