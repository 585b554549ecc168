"""The small loopback HTTP servers role tests put behind nginx (a stand-in app, a recording store)."""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def serving_in_threads(*servers: socketserver.BaseServer) -> Iterator[None]:
    """Serve each server on a thread of its own while the block runs; shut them down and close them after."""
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
