"""The emulator process: moto server with mlinfra's patches and control routes.

``python -m mlinfra.emulator.server --port N`` serves on 127.0.0.1 until it is stopped
(SIGTERM). The patches are applied in this process before the first request, which is why the
emulator is a process of its own and not ``python -m moto.server``.
"""

from __future__ import annotations

import argparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from mlinfra.emulator import patches
from mlinfra.emulator.control import with_control_routes
from mlinfra.emulator.gaps import GapLog, with_gap_answers
from mlinfra.emulator.request_log import NotingRequestHandler, with_request_notes
from mlinfra.emulator.retries import with_replayed_retries


def make_emulator_server(host: str, port: int) -> BaseWSGIServer:
    """A threaded WSGI server for moto plus the control routes (patches not included).

    Every 5xx moto answers becomes a 400 ``MlinfraEmulatorGap`` naming the request, logged on
    stderr and listed by ``GET /_mlinfra/gaps`` (:mod:`mlinfra.emulator.gaps`). Each log line
    names the request's service, action, SDK attempt and error code
    (:mod:`mlinfra.emulator.request_log`). A retry of an invocation already answered gets that
    answer again (:mod:`mlinfra.emulator.retries`).
    """
    gaps = GapLog()
    moto_app = with_gap_answers(DomainDispatcherApplication(create_backend_app), gaps)
    app = with_control_routes(with_request_notes(with_replayed_retries(moto_app)), gaps)
    return make_server(host, port, app, threaded=True, request_handler=NotingRequestHandler)


def serve(host: str, port: int) -> None:
    with patches.applied(*patches.PATCHES):
        server = make_emulator_server(host, port)
        server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
