"""A tiny service for the local runtime's tests: says its version, has a /health route.

``APP_VERSION`` comes from the task definition's environment; ``APP_HEALTHY=0`` makes /health
fail, to play a revision that never becomes healthy. SIGTERM stops it (it runs as PID 1).
``/crash`` exits with code 3 and ``/allocate?mib=N`` holds N MiB, to play the faults an ECS
service scheduler handles.
"""

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HELD = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/crash":
            os._exit(3)
        if self.path.startswith("/allocate?mib="):
            for _ in range(int(self.path.rpartition("=")[2])):
                HELD.append(b"x" * (1024 * 1024))  # written, so resident
                time.sleep(0.001)
        healthy = os.environ.get("APP_HEALTHY", "1") == "1"
        status = 200 if self.path != "/health" or healthy else 500
        body = json.dumps({"version": os.environ.get("APP_VERSION", "?")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
sys.exit(0)
