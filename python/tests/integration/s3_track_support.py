"""Helpers for the seqr_s3 integration tests: track URLs, the Range battery, and a TCP forwarder that can
take S3 away mid-test (an outage we control, without stopping the session's SeaweedFS)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote, unquote, urlsplit

import requests


@dataclass
class Stack:
    """One way in for a mode: base URL, a logged-in collaborator of project 1, the gunicorn behind it."""

    mode: str
    base_url: str
    session: requests.Session
    standin: Any


def seqr_s3_config(mode: str, s3_server: Any, **overrides: Any) -> dict[str, Any]:
    """SEQR_S3 for the session's SeaweedFS, as the shared stand-in factory writes it."""
    from fixtures.session import default_seqr_s3_config

    return {**default_seqr_s3_config(mode, s3_server), **overrides}


def start_private_standin(
    workdir: Path,
    s3_server: Any,
    seed: dict,
    config: dict[str, Any],
    secret_key: str,
    workers: int = 2,
    extra_env: Optional[dict[str, str]] = None,
    aws_config_extra: str = "",
) -> Any:
    """A stand-in of its own (the shared factory reuses one per configuration and always the right keys):
    for a wrong secret, one worker whose memory a test can watch, or an audit log file (``extra_env``
    SEQR_S3_AUDIT_LOG, see tests/standin_settings_s3.py). ``aws_config_extra``: lines added to the profile of
    ~/.aws/config (e.g. ``ca_bundle = ...`` as the role writes it)."""
    from fixtures.standin import (
        prepare_database,
        standin_env,
        start_standin,
        write_accel_secret,
        write_aws_files,
    )

    if "ACCEL_SECRET_FILE" not in config:
        # As the role sets it (and the shared factory): an nginx_factory nginx in front sends the same secret.
        config = {**config, "ACCEL_SECRET_FILE": str(write_accel_secret(workdir / "accel_secret"))}
    aws_files = write_aws_files(workdir / "aws", s3_server.reader.access_key, secret_key, s3_server.region)
    if aws_config_extra:
        with aws_files.config_file.open("a") as config_file:
            config_file.write(aws_config_extra.rstrip("\n") + "\n")
    env = standin_env(workdir / "db.sqlite3", "standin_settings_s3", config, aws_files, extra=extra_env)
    prepare_database(env, seed, workdir)
    return start_standin(workdir, env, workers=workers)


def run_check(env: dict[str, str], standin: Path, prelude: str = "") -> Any:
    """``manage.py check`` of the stand-in (or a shaped copy) in ``standin``, in a process of its own: the
    checks and the patch run at that seqr's start. ``prelude`` runs first in the same interpreter (to take a
    module away, say). Returns the CompletedProcess; failing is an outcome a test looks at."""
    import subprocess
    import sys

    from fixtures.standin import TESTS_DIR

    code = "\n".join(
        [
            prelude,
            "import runpy, sys",
            "sys.argv = ['manage.py', 'check']",
            "runpy.run_path('manage.py', run_name='__main__')",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=standin,
        env={**env, "PYTHONPATH": f"{standin}:{TESTS_DIR}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def track_url(base_url: str, project_guid: str, track_path: str) -> str:
    """The URL seqr's UI requests: the path passed through encodeURIComponent."""
    return f"{base_url}/api/project/{project_guid}/igv_track/{quote(track_path, safe='')}"


@dataclass(frozen=True)
class RangeCase:
    """One Range header (``{size}``, ``{last}``, ``{beyond}`` filled in per object) and what RFC 9110 says.

    ``expect(size)`` returns (status, first, end) with ``end`` exclusive; 416 cases have no bytes.
    """

    header: str
    expect: Callable[[int], tuple[int, int, int]]
    well_formed: bool = True

    def header_for(self, size: int) -> str:
        return self.header.format(size=size, last=size - 1, beyond=size + 1000, far=size * 3 + 7)


def _partial(first: Callable[[int], int], end: Callable[[int], int]) -> Callable[[int], tuple[int, int, int]]:
    return lambda size: (206, first(size), end(size))


def _whole(size: int) -> tuple[int, int, int]:
    return (200, 0, size)


def _unsatisfiable(size: int) -> tuple[int, int, int]:
    return (416, 0, 0)


# The role's nginx variables of each accel way in: authorize once is the role's default; "per-request" is a
# seqr request per range (seqr_s3_nginx_authorize_ttl: 0).
ACCEL_PER_REQUEST = {"seqr_s3_nginx_authorize_ttl": 0}

RANGE_BATTERY = [
    RangeCase("bytes=0-0", _partial(lambda n: 0, lambda n: 1)),
    RangeCase("bytes=0-65535", _partial(lambda n: 0, lambda n: 65536)),
    RangeCase("bytes=100-199", _partial(lambda n: 100, lambda n: 200)),
    RangeCase("bytes=65530-131080", _partial(lambda n: 65530, lambda n: 131081)),
    RangeCase("bytes=1000-", _partial(lambda n: 1000, lambda n: n)),
    RangeCase("bytes=-1", _partial(lambda n: n - 1, lambda n: n)),
    RangeCase("bytes=-500", _partial(lambda n: n - 500, lambda n: n)),
    RangeCase("bytes={last}-{last}", _partial(lambda n: n - 1, lambda n: n)),
    RangeCase("bytes={last}-", _partial(lambda n: n - 1, lambda n: n)),
    RangeCase("bytes=10-{beyond}", _partial(lambda n: 10, lambda n: n)),
    RangeCase("bytes=-{beyond}", _partial(lambda n: 0, lambda n: n)),
    RangeCase("bytes=0-", _partial(lambda n: 0, lambda n: n)),
    RangeCase("bytes={size}-", _unsatisfiable),
    RangeCase("bytes={beyond}-{far}", _unsatisfiable),
    # Accepted by RFC 9110's recipients' rules, but not what browsers send: only our proxy is held to them.
    RangeCase("BYTES=5-9", _partial(lambda n: 5, lambda n: 10), well_formed=False),
    RangeCase("bytes=5-9,", _partial(lambda n: 5, lambda n: 10), well_formed=False),
    RangeCase("bytes=-0", _unsatisfiable, well_formed=False),
    # Malformed, other units, multi-range: ignored, so the whole object with 200.
    RangeCase("bytes=9-5", _whole, well_formed=False),
    RangeCase("bytes=abc", _whole, well_formed=False),
    RangeCase("bytes=-", _whole, well_formed=False),
    RangeCase("bytes=0x10-20", _whole, well_formed=False),
    RangeCase("bytes=--5", _whole, well_formed=False),
    RangeCase("bytes=1.5-3", _whole, well_formed=False),
    RangeCase("bytes 0-10", _whole, well_formed=False),
    RangeCase("items=0-10", _whole, well_formed=False),
    RangeCase("bytes=0-1,5-6", _whole, well_formed=False),
    RangeCase("bytes=0-10, -5", _whole, well_formed=False),
]


def assert_answer(response: requests.Response, case: RangeCase, data: bytes) -> None:
    """The answer RFC 9110 gives ``case`` for an object holding ``data``: status, ranges, length and bytes."""
    size = len(data)
    status, first, end = case.expect(size)
    label = f"Range {case.header_for(size)!r}"
    assert response.status_code == status, f"{label}: {response.status_code} {response.text[:200]!r}"
    if status == 206:
        assert response.headers["Content-Range"] == f"bytes {first}-{end - 1}/{size}", label
        assert int(response.headers["Content-Length"]) == end - first, label
        assert response.content == data[first:end], label
    elif status == 200:
        assert int(response.headers["Content-Length"]) == size, label
        assert response.content == data, label
    else:
        assert response.headers["Content-Range"] == f"bytes */{size}", label


class TcpForwarder:
    """Forward 127.0.0.1:<port> to a target port; ``stop()`` cuts every connection, ``start()`` resumes.

    Stands between seqr and SeaweedFS so a test can make S3 vanish and come back on the same address.
    """

    def __init__(self, target_port: int, listen_port: Optional[int] = None) -> None:
        self.target_port = target_port
        self.port = listen_port or 0
        self._listener: Optional[socket.socket] = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def silent_listener() -> Iterator[socket.socket]:
    """A loopback port that accepts TCP connections and never answers: an S3 endpoint that hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener
    finally:
        listener.close()


class RecordingS3Front:
    """An HTTP front for the S3 server that forwards every request unchanged (Host included, so signatures
    still match) and records its method and path: the S3 requests a test caused, counted where they land."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.requests: list[tuple[str, str]] = []
        # Per request: method, path, query string and the x-amz-request-payer header (None when absent).
        self.details: list[tuple[str, str, str, Optional[str]]] = []
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                parts = urlsplit(self.path)
                with front._lock:
                    front.requests.append((self.command, unquote(parts.path)))
                    payer = self.headers.get("x-amz-request-payer")
                    front.details.append((self.command, unquote(parts.path), parts.query, payer))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = http.client.HTTPConnection("127.0.0.1", front.target_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response_only(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                            self.send_header(name, value)
                    length_header = answer.getheader("Content-Length")
                    sent_length = length_header if self.command == "HEAD" and length_header else len(data)
                    self.send_header("Content-Length", str(sent_length))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.details.clear()

    def recorded_details(self) -> list[tuple[str, str, str, Optional[str]]]:
        with self._lock:
            return list(self.details)

    def recorded(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}


class HangingStore:
    """A loopback port that accepts TCP connections and never answers, counting the connections: an S3
    endpoint that hangs (each botocore attempt opens a connection of its own)."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._held.append(connection)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for connection in self._held:
                connection.close()
