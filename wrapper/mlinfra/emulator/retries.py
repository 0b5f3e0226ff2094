"""A retried invocation gets the answer its first attempt was given, not a second execution.

Real AWS: the answer to a request reaches the SDK, so a request the service carried out is not
sent again. The emulator: under the CI's parallel applies, about 1 request in 1,250 had its
answer lost between werkzeug and the client; the request log showed the same action answered
200 and then its ``attempt=2`` (12 in 14,962 requests of one fresh-clone run). For a read the
repeat is harmless. For a change it is not: a repeated CreateRoute answers
``RouteAlreadyExists``, a DeleteSecurityGroup ``InvalidGroup.NotFound``, a conditional S3 PUT
``PreconditionFailed``, and the apply fails with a resource that exists but is not in the state
(the prod environment's flake at 595e7c4).
Fix: the AWS SDKs (Go v2, botocore) send one ``amz-sdk-invocation-id`` with every attempt of a
call. The emulator keeps the successful answers of recent invocations that may change
something, and a later attempt of one of them gets that answer again instead of being carried
out twice; one that comes while the first attempt is still being served waits for it. An
attempt after a failed one is carried out, as AWS would.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mlinfra.emulator.gaps import WsgiApp, content_length, read_whole

INVOCATION_KEY = "HTTP_AMZ_SDK_INVOCATION_ID"
REPLAYED_KEY = "mlinfra.replayed"
MAX_KEPT = 1024  # invocations whose answers are kept
MAX_BODY = 64 << 10  # a longer answer is not kept (moto's answers to changes are a few KB)
WAIT_S = 120.0  # how long a retry waits for its first attempt to be answered
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # REST reads: doing them again is harmless


@dataclass
class _Answer:
    """One invocation's first answer; ``body`` None while it is served or when not kept."""

    done: threading.Event = field(default_factory=threading.Event)
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None


class AnswerCache:
    """The answers of the last ``max_kept`` invocations; safe to share between threads."""

    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, _Answer] = OrderedDict()
        self._max_kept = max_kept

    def claim(self, invocation: str) -> tuple[_Answer, bool]:
        """The invocation's answer and True when this is its first attempt seen."""
        with self._lock:
            answer = self._answers.get(invocation)
            if answer is not None:
                self._answers.move_to_end(invocation)
                return answer, False
            answer = self._answers[invocation] = _Answer()
            while len(self._answers) > self._max_kept:
                self._answers.popitem(last=False)
            return answer, True

    def __len__(self) -> int:
        with self._lock:
            return len(self._answers)


def with_replayed_retries(app: WsgiApp, cache: AnswerCache | None = None) -> WsgiApp:
    """Wrap ``app`` so that a retry of an invocation already answered with a 2xx gets that
    answer again (``environ[REPLAYED_KEY]`` is then True, for the log line)."""
    answers = cache if cache is not None else AnswerCache()

    def replaying(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = str(environ.get(INVOCATION_KEY, ""))
        if not invocation or environ.get("REQUEST_METHOD", "GET") in READ_METHODS:
            return app(environ, start_response)
        answer, first = answers.claim(invocation)
        if not first:
            answer.done.wait(WAIT_S)
            if answer.body is not None:
                environ[REPLAYED_KEY] = True
                start_response(answer.status, answer.headers)
                return [answer.body]
            return app(environ, start_response)  # the first attempt failed: carry this one out
        try:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured.update(status=status, headers=list(headers))
                return start_response(status, headers, exc_info)

            body = app(environ, capture)
            status: str = captured.get("status", "")
            headers: list[tuple[str, str]] = captured.get("headers", [])
            length = content_length(headers)
            if not status.startswith("2") or length is None or length > MAX_BODY:
                return body
            data = read_whole(body)
            answer.status, answer.headers, answer.body = status, headers, data
            return [data]
        finally:
            answer.done.set()

    return replaying
