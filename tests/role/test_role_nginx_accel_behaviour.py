"""The rendered site's accel location, run in a real nginx on loopback: what reaches the store, what reaches
the client.

The "app" and the "store" are two small loopback HTTP servers: the app answers like seqr_s3 in accel mode
(X-Accel-Redirect plus the signed URL, Host and canonical Range), the store records every request it gets and
answers like S3 would. A real S3 server cannot show the headers it received, which is the point here; the
byte-level range battery against a real S3 server lives in python/tests/integration.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fixtures.nginx import start_nginx
from fixtures.seaweed import free_loopback_ports
from loopback_servers import serving_in_threads

OBJECT = bytes(range(100))
SIGNED_HOST_NAME = "bucket.signed.example"


class Recorder:
    """What each server saw, in order (the tests read it after the response arrived)."""

    def __init__(self) -> None:
        self.store_port = 0
        self.app_paths: list[str] = []
        self.app_secrets: list[str | None] = []
        self.store_requests: list[tuple[str, str, dict[str, str]]] = []


def _store_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class StoreHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            recorder.store_requests.append(("GET", self.path, dict(self.headers.items())))
            key = self.path.split("?")[0].rsplit("/", 1)[-1]
            extra = {"x-amz-request-id": "REQ123", "x-amz-id-2": "ID2", "Set-Cookie": "store=1"}
            if key == "ok.bam":
                body = OBJECT[0:10]
                self._answer(206, body, {**extra, "Content-Range": f"bytes 0-9/{len(OBJECT)}"})
            elif key == "denied.bam":
                self._answer(
                    403, b"<Error><Code>AccessDenied</Code><BucketName>b</BucketName></Error>", extra
                )
            elif key == "missing.bam":
                self._answer(404, b"<Error><Code>NoSuchKey</Code><Key>secret/key</Key></Error>", extra)
            else:
                self._answer(
                    416, b"<Error><Code>InvalidRange</Code></Error>", {"Content-Range": "bytes */100"}
                )

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet: the recorder keeps what matters."""

    return StoreHandler


def _app_handler(recorder: Recorder, store_port: int) -> type[BaseHTTPRequestHandler]:
    class AppHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            recorder.app_paths.append(self.path)
            recorder.app_secrets.append(self.headers.get("X-Seqr-S3-Accel-Secret"))
            key = self.path.rsplit("%2F", 1)[-1]
            self.send_response(200)
            self.send_header("X-Accel-Redirect", "/_seqr_s3_internal/")
            self.send_header(
                "X-Seqr-S3-Url", f"http://127.0.0.1:{store_port}/b/{key}?X-Amz-Signature=sig%2Fx"
            )
            self.send_header("X-Seqr-S3-Host", f"{SIGNED_HOST_NAME}:{store_port}")
            self.send_header("X-Seqr-S3-Range", "bytes=0-9" if self.headers.get("Range") else "")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            """Quiet: the recorder keeps what matters."""

    return AppHandler


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Recorder]]:
    """nginx with the role's site (accel mode) in front of the app, the app pointing at the store."""
    recorder = Recorder()
    store = ThreadingHTTPServer(("127.0.0.1", 0), _store_handler(recorder))
    app = ThreadingHTTPServer(("127.0.0.1", 0), _app_handler(recorder, store.server_address[1]))
    recorder.store_port = store.server_address[1]
    with serving_in_threads(store, app):
        port = free_loopback_ports(1)[0]
        nginx = start_nginx(
            tmp_path_factory.mktemp("nginx_accel"),
            f"127.0.0.1:{app.server_address[1]}",
            port,
            # The app answers as seqr's per-request way (authorize once, the role's default, is exercised with
            # the real stand-in in python/tests/integration/test_authorize_once.py).
            {"seqr_s3_nginx_resolvers": [], "seqr_s3_nginx_authorize_ttl": 0},
        )
        try:
            yield port, recorder
        finally:
            nginx.stop()


def _request(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


TRACK = "/api/project/P1/igv_track/s3%3A%2F%2Fb%2F"


def test_store_gets_only_signed_host_canonical_range_and_if_range(stack: tuple[int, Recorder]) -> None:
    port, recorder = stack
    response, body = _request(
        port,
        TRACK + "ok.bam",
        headers={
            "Range": "bytes = 0-9",
            "If-Range": '"etag-1"',
            "Cookie": "sessionid=user-session",
            "Authorization": "Bearer user-token",
            "User-Agent": "igv.js",
        },
    )
    assert (response.status, body) == (206, OBJECT[0:10])
    method, target, sent = recorder.store_requests[-1]
    assert method == "GET"
    assert target == "/b/ok.bam?X-Amz-Signature=sig%2Fx"  # the signed URL, byte for byte
    assert {name.lower(): value for name, value in sent.items()} == {
        "host": f"{SIGNED_HOST_NAME}:{recorder.store_port}",
        "range": "bytes=0-9",
        "if-range": '"etag-1"',
    }


def test_client_sees_neither_signed_url_nor_store_headers(stack: tuple[int, Recorder]) -> None:
    port, _ = stack
    response, _ = _request(port, TRACK + "ok.bam", headers={"Range": "bytes=0-9"})
    names = {name.lower() for name, _ in response.getheaders()}
    assert not names & {"x-seqr-s3-url", "x-seqr-s3-host", "x-seqr-s3-range", "x-accel-redirect"}
    assert not names & {"x-amz-request-id", "x-amz-id-2", "set-cookie"}
    assert response.getheader("Content-Range") == "bytes 0-9/100"


def test_encoded_slashes_reach_the_app_unchanged(stack: tuple[int, Recorder]) -> None:
    port, recorder = stack
    _request(port, TRACK + "ok.bam", headers={"Range": "bytes=0-9"})
    assert recorder.app_paths[-1] == TRACK + "ok.bam"


def test_a_clients_accel_secret_header_never_reaches_the_app(stack: tuple[int, Recorder]) -> None:
    """Rendered without the role's secret file, nginx sends no secret: a client's forged copy is dropped,
    so seqr cannot be tricked into handing out a presigned URL."""
    port, recorder = stack
    for path in (TRACK + "ok.bam", "/api/anything"):
        _request(port, path, headers={"X-Seqr-S3-Accel-Secret": "a" * 64})
        assert recorder.app_secrets[-1] is None, path


def test_head_from_the_client_is_sent_as_the_signed_get(stack: tuple[int, Recorder]) -> None:
    port, recorder = stack
    response, body = _request(port, TRACK + "ok.bam", method="HEAD", headers={"Range": "bytes=0-9"})
    assert response.status == 206 and body == b""
    assert recorder.store_requests[-1][0] == "GET"


def test_no_range_sent_when_seqr_ignores_the_clients(stack: tuple[int, Recorder]) -> None:
    port, recorder = stack
    _request(port, TRACK + "ok.bam")
    assert "Range" not in recorder.store_requests[-1][2]


@pytest.mark.parametrize(
    ("key", "status", "text"),
    [
        # Denied by the store is 403, as in proxy mode (CONTRACT's error answers).
        ("denied.bam", 403, b"The read store denied this server access\n"),
        ("missing.bam", 404, b"Not found in the read store\n"),
    ],
)
def test_store_errors_become_clean_answers(
    stack: tuple[int, Recorder], key: str, status: int, text: bytes
) -> None:
    port, _ = stack
    response, body = _request(port, TRACK + key, headers={"Range": "bytes=0-9"})
    assert (response.status, body) == (status, text)
    assert response.getheader("x-amz-request-id") is None


def test_unsatisfiable_range_passes_through_with_its_content_range(stack: tuple[int, Recorder]) -> None:
    port, _ = stack
    response, _ = _request(port, TRACK + "past-end.bam", headers={"Range": "bytes=0-9"})
    assert response.status == 416
    assert response.getheader("Content-Range") == "bytes */100"


def test_internal_location_cannot_be_requested_directly(stack: tuple[int, Recorder]) -> None:
    port, recorder = stack
    before = len(recorder.store_requests)
    response, _ = _request(port, "/_seqr_s3_internal/anything")
    assert response.status != 206
    assert len(recorder.store_requests) == before
