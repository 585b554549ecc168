"""Refusals and failures of s3:// track reads: each a clean, specific answer, never a 500 or a secret.

Covers the allow-list, a path registered to another project, seqr's own project permission, anonymous
users, missing objects, malformed paths, wrong S3 credentials, an S3 endpoint that is down, one that hangs,
an outage in the middle of the test (and mid-stream), and a client that goes away while reading.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests
from fixtures.seaweed import free_loopback_ports
from s3_track_support import (
    Stack,
    TcpForwarder,
    seqr_s3_config,
    silent_listener,
    start_private_standin,
    track_url,
)
from seqr_s3.access import REFUSAL_MESSAGE

PROJECT_1 = "R0001_project_1"
PROJECT_2 = "R0002_project_2"


def get(stack: Stack, project: str, track_path: str, **headers: str) -> requests.Response:
    return stack.session.get(track_url(stack.base_url, project, track_path), headers=headers, timeout=60)


def error_of(response: requests.Response) -> str:
    return response.json()["error"]


def test_outside_the_allow_list_is_refused_and_logged(stack: Stack, s3_bucket) -> None:
    # private/other.bam IS registered to project 1, but lies outside ALLOWED_PREFIXES.
    response = get(stack, PROJECT_1, s3_bucket["private_bam"].s3_path)
    assert (response.status_code, error_of(response)) == (403, REFUSAL_MESSAGE)
    # The user is told nothing specific; the operator's log names the rule.
    assert (
        "refused s3://seqr-reads/private/other.bam for project R0001_project_1: not_under_allowed_prefixes"
        in stack.standin.log_text()
    )


def test_a_path_of_another_project_is_refused(stack: Stack, s3_bucket) -> None:
    # The collaborator may view project 1; project 2's reads are in the same bucket and allowed prefix.
    response = get(stack, PROJECT_1, s3_bucket["project2_bam"].s3_path, Range="bytes=0-99")
    assert (response.status_code, error_of(response)) == (403, REFUSAL_MESSAGE)
    assert b"BAM" not in response.content
    assert (
        f"refused {s3_bucket['project2_bam'].s3_path} for project {PROJECT_1}: not_registered_to_project"
        in stack.standin.log_text()
    )


def test_an_unregistered_object_under_the_prefix_is_refused(stack: Stack, s3_bucket) -> None:
    response = get(stack, PROJECT_1, s3_bucket["fasta"].s3_path)
    assert (response.status_code, error_of(response)) == (403, REFUSAL_MESSAGE)


def test_the_owning_project_is_served(make_stack, seeded_session, s3_bucket) -> None:
    """The control for the refusal above: project 2's member reads project 2's file through project 2."""
    stack = make_stack("proxy")
    other = seeded_session(stack.standin, "other")
    response = other.get(track_url(stack.base_url, PROJECT_2, s3_bucket["project2_bam"].s3_path), timeout=60)
    assert response.status_code == 200
    assert response.content == s3_bucket["project2_bam"].read_local()


def test_seqrs_project_permission_still_comes_first(make_stack, seeded_session, s3_bucket) -> None:
    stack = make_stack("proxy")
    other = seeded_session(stack.standin, "other")
    response = other.get(track_url(stack.base_url, PROJECT_1, s3_bucket["bam"].s3_path), timeout=60)
    assert response.status_code == 403
    assert b"BAM" not in response.content


def test_anonymous_users_are_refused(stack: Stack, s3_bucket) -> None:
    response = requests.get(
        track_url(stack.base_url, PROJECT_1, s3_bucket["bam"].s3_path),
        headers={"Range": "bytes=0-3"},
        timeout=60,
    )
    assert response.status_code == 401
    assert response.content[:4] != s3_bucket["bam"].read_local()[:4]


def test_missing_object_is_404(stack: Stack, s3_bucket) -> None:
    # <registered bam>.tbi is a derived index name, so it passes the access check, but does not exist.
    response = get(stack, PROJECT_1, s3_bucket["bam"].s3_path + ".tbi", Range="bytes=0-9")
    if stack.mode == "redirect":
        # The 302 is followed to S3, which answers the 404 itself.
        assert response.status_code == 404
        return
    assert response.status_code == 404
    if stack.mode == "proxy":
        assert error_of(response) == "s3://seqr-reads/reads/sample.bam.tbi does not exist"


@pytest.mark.parametrize(
    ("track_path", "reason"),
    [
        ("s3://Not_A_Bucket/reads/x.bam", "bucket name 'Not_A_Bucket'"),
        ("s3://seqr-reads/reads/../private/other.bam", "'..' segments are not allowed"),
        ("s3://seqr-reads", "no object key"),
    ],
)
def test_malformed_paths_are_400_with_the_reason(proxy_stack: Stack, track_path: str, reason: str) -> None:
    response = get(proxy_stack, PROJECT_1, track_path)
    assert response.status_code == 400
    assert reason in error_of(response)


@pytest.fixture(scope="module")
def wrong_key_stack(tmp_path_factory, s3_server, standin_data, seeded_session) -> Iterator[Stack]:
    """A stand-in whose AWS credentials file holds a valid access key with a wrong secret."""
    wrong_secret = "wrong" + s3_server.reader.secret_key[5:]
    server = start_private_standin(
        tmp_path_factory.mktemp("standin_wrong_key"),
        s3_server,
        standin_data.seed,
        seqr_s3_config("proxy", s3_server),
        wrong_secret,
        workers=1,
    )
    try:
        yield Stack("proxy", server.base_url, seeded_session(server, "collaborator"), server)
    finally:
        server.stop()


def test_wrong_credentials_are_403_without_secrets(wrong_key_stack: Stack, s3_bucket, s3_server) -> None:
    response = get(wrong_key_stack, PROJECT_1, s3_bucket["bam"].s3_path, Range="bytes=0-9")
    assert response.status_code == 403
    assert "S3 denied this server access to s3://seqr-reads/reads/sample.bam" in error_of(response)
    log = wrong_key_stack.standin.log_text()
    assert "denied" in log
    for secret in (s3_server.reader.secret_key, "wrong" + s3_server.reader.secret_key[5:]):
        assert secret not in response.text
        assert secret not in log


def test_dead_endpoint_is_502_and_the_app_stays_up(make_stack, s3_bucket, reads) -> None:
    dead_port = free_loopback_ports(1)[0]
    stack = make_stack("proxy", ENDPOINT_URL=f"http://127.0.0.1:{dead_port}", CONNECT_TIMEOUT=2)
    response = get(stack, PROJECT_1, s3_bucket["bam"].s3_path, Range="bytes=0-9")
    assert response.status_code == 502
    assert "cannot reach the S3 endpoint" in error_of(response)
    # seqr itself still answers, local tracks included.
    local = get(stack, PROJECT_1, str(reads.bam), Range="bytes=0-9")
    assert local.status_code == 206
    assert local.content == reads.bam.read_bytes()[:10]


def test_hanging_endpoint_is_504(make_stack, s3_bucket) -> None:
    with silent_listener() as listener:
        port = listener.getsockname()[1]
        stack = make_stack(
            "proxy", ENDPOINT_URL=f"http://127.0.0.1:{port}", CONNECT_TIMEOUT=1, READ_TIMEOUT=1
        )
        response = get(stack, PROJECT_1, s3_bucket["bam"].s3_path, Range="bytes=0-9")
    assert response.status_code == 504
    assert "did not answer in time" in error_of(response)


@pytest.fixture(scope="module")
def forwarder(s3_server) -> Iterator[TcpForwarder]:
    """S3 reached through a forwarder this module can switch off and on."""
    target = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    relay = TcpForwarder(target)
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


@pytest.mark.parametrize("mode", ["proxy", "accel"])
def test_outage_mid_test_then_recovery(make_stack, forwarder: TcpForwarder, s3_bucket, mode: str) -> None:
    stack = make_stack(mode, ENDPOINT_URL=forwarder.url, CONNECT_TIMEOUT=2)
    bam = s3_bucket["bam"]
    data = bam.read_local()
    assert get(stack, PROJECT_1, bam.s3_path, Range="bytes=0-99").content == data[:100]

    forwarder.stop()
    try:
        down = get(stack, PROJECT_1, bam.s3_path, Range="bytes=0-99")
        assert down.status_code in (502, 504), down.text[:200]
        assert requests.get(stack.base_url + "/", timeout=30).status_code == 200, "the app must stay up"
    finally:
        forwarder.start()

    again = get(stack, PROJECT_1, bam.s3_path, Range="bytes=100-199")
    assert again.status_code == 206
    assert again.content == data[100:200]


def test_outage_mid_stream_truncates_and_the_app_survives(make_stack, forwarder, s3_bucket) -> None:
    stack = make_stack("proxy", ENDPOINT_URL=forwarder.url, CONNECT_TIMEOUT=2)
    large = s3_bucket["large"]
    url = track_url(stack.base_url, PROJECT_1, large.s3_path)
    received = 0
    with stack.session.get(url, stream=True, timeout=60) as response:
        assert response.status_code == 200
        chunks = response.iter_content(65536)
        received += len(next(chunks))
        forwarder.stop()
        try:
            for chunk in chunks:
                received += len(chunk)
        except requests.exceptions.ChunkedEncodingError:
            pass  # urllib3 2 reports the short body itself; urllib3 1.26 (Python 3.9) just ends it
        finally:
            forwarder.start()
    assert received < len(large.read_local())
    assert "broke off after" in _wait_for_log(stack, "broke off after")
    after = get(stack, PROJECT_1, large.s3_path, Range="bytes=0-9")
    assert after.content == large.read_local()[:10]


def _wait_for_log(stack: Stack, text: str, within: float = 30) -> str:
    """The gunicorn log once it mentions ``text`` (the worker writes it asynchronously to the test)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        log = stack.standin.log_text()
        if text in log:
            return log
        time.sleep(0.2)
    return stack.standin.log_text()


def test_client_disconnect_closes_the_s3_stream(proxy_stack: Stack, s3_bucket) -> None:
    """A client that reads a little of the 8 MiB object and hangs up: the worker must close its S3 body."""
    url = track_url(proxy_stack.base_url, PROJECT_1, s3_bucket["large"].s3_path)
    host, port = proxy_stack.base_url.removeprefix("http://").split(":")
    cookie = "; ".join(f"{c.name}={c.value}" for c in proxy_stack.session.cookies)
    path = url[len(proxy_stack.base_url) :]
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window, so the worker blocks on sending long before the 8 MiB are through.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    client.connect((host, int(port)))
    client.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode()
    )
    first = client.recv(4096)
    assert first.startswith(b"HTTP/1.1 200"), first[:100]
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # with linger 0: a reset, as a browser tab closing mid-download
    log = _wait_for_log(proxy_stack, "reads/large_random.bam closed before its end")
    assert "S3 stream of s3://seqr-reads/reads/large_random.bam closed before its end" in log


def test_unknown_profile_is_a_clean_502(make_stack, s3_bucket) -> None:
    stack = make_stack("proxy", PROFILE="no-such-profile")
    response = get(stack, PROJECT_1, s3_bucket["bam"].s3_path, Range="bytes=0-9")
    assert response.status_code == 502
    assert "cannot set up the S3 client" in error_of(response)
    assert "no-such-profile" in error_of(response)
