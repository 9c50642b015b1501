"""A webhook receiver for trying supervise's webhooks on your own machine (README: "Integrating a clinic
system"). It verifies each request with the ``standardwebhooks`` package, answers 401 to a forged or stale one
and 204 to a good one, skips a ``webhook-id`` it has seen (a redelivery), prints one line per event, and keeps
the last request it accepted in ``--keep`` (``last-body`` and ``last-headers.json``) so you can check a
signature by hand.

    WEBHOOK_SECRET=whsec_… uv run python examples/webhook_receiver.py --port 9000 --keep hooks

A real receiver does the same in its own framework: verify the raw body before parsing it, deduplicate by
``webhook-id``, answer 2xx quickly and do the work afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--keep", type=Path, default=None, help="a directory for the last request accepted")
    arguments = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        sys.exit("set WEBHOOK_SECRET to the endpoint's secret (whsec_…)")
    webhook = Webhook(secret)
    seen: set[str] = set()
    lock = threading.Lock()
    if arguments.keep is not None:
        arguments.keep.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = webhook.verify(body, headers)
            except WebhookVerificationError as error:
                with lock:
                    print(f"refused: {error}", flush=True)
                self._answer(401)
                return
            with lock:  # requests come on threads: one at a time here, so printed lines never run together
                again = headers["webhook-id"] in seen
                seen.add(headers["webhook-id"])
                if arguments.keep is not None:
                    (arguments.keep / "last-body").write_bytes(body)
                    (arguments.keep / "last-headers.json").write_text(json.dumps(headers))
                if not again:
                    print(f"verified {event['type']} {json.dumps(event['data'], sort_keys=True)}", flush=True)
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    print(f"listening on http://127.0.0.1:{arguments.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
