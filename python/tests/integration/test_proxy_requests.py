"""Proxy mode asks S3 once for an ordinary IGV range: the GET's own answer tells the size the range decision
needs. Only HEAD requests, If-Range and ranges S3 refuses cost a HEAD (issue 7: a HEAD per range was a
round trip and a botocore call on every request). Answers stay what RFC 9110 asks for, byte for byte.

Each request goes through seqr's IGV route in the stand-in's Django inside the test process (Django's test
Client, logged in as project 1's collaborator) to the session's SeaweedFS; the S3 operations are counted by
a botocore event hook on seqr_s3's own clients (they still run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from s3_track_support import RANGE_BATTERY, track_url
from seqr_s3 import config, s3

PROJECT_1 = "R0001_project_1"


@pytest.fixture
def ask(seqr_in_process, s3_bucket) -> Iterator[Callable[..., tuple[Any, bytes, list[str]]]]:
    """``ask(method, **headers)`` for the BAM → (response, body, the S3 operations it cost)."""
    seqr_in_process.use("proxy")
    client = seqr_in_process.client("collaborator")
    settings = config.load_settings()
    operations: list[str] = []

    def count_operation(model: Any, **_: Any) -> None:
        operations.append(model.name)

    clients = [s3.get_client(settings, purpose) for purpose in (s3.METADATA, s3.DATA)]
    for client_ in clients:
        client_.meta.events.register("before-call.s3", count_operation)
    url = track_url("", PROJECT_1, s3_bucket["bam"].s3_path)

    def send(method: str, **headers: str) -> tuple[Any, bytes, list[str]]:
        operations.clear()
        response = client.generic(method, url, headers=headers)
        # Reading a streamed body to its end closes the response (the test Client then keeps the connection
        # to the test database open, which response.close() would not).
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response, body, list(operations)

    yield send
    for client_ in clients:
        client_.meta.events.unregister("before-call.s3", count_operation)


@pytest.fixture(scope="module")
def bam(s3_bucket) -> tuple[bytes, str]:
    """The BAM's bytes and its ETag."""
    etag = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key=s3_bucket["bam"].key)["ETag"]
    return s3_bucket["bam"].read_local(), etag


@pytest.mark.parametrize("case", RANGE_BATTERY, ids=lambda case: case.header)
def test_a_get_costs_one_s3_request_unless_s3_refuses_the_range(ask, bam, case) -> None:
    data, _ = bam
    response, body, operations = ask("GET", Range=case.header_for(len(data)))
    status, first, end = case.expect(len(data))
    assert response.status_code == status
    if status == 416:
        assert response["Content-Range"] == f"bytes */{len(data)}"
        # S3's 416 does not tell the size: one HEAD for it, and no second GET.
        assert operations.count("GetObject") <= 1
        assert operations[-1] == "HeadObject"
        return
    assert operations == ["GetObject"]
    assert body == data[first:end]
    expected_range = f"bytes {first}-{end - 1}/{len(data)}" if status == 206 else None
    assert response.get("Content-Range") == expected_range
    assert response["Content-Length"] == str(end - first)


def test_no_range_is_the_whole_object_from_one_get(ask, bam) -> None:
    data, etag = bam
    response, body, operations = ask("GET")
    assert (response.status_code, operations, response["ETag"]) == (200, ["GetObject"], etag)
    assert body == data


def test_head_asks_s3_only_for_a_head(ask, bam) -> None:
    data, _ = bam
    response, body, operations = ask("HEAD", Range="bytes=0-99")
    assert (response.status_code, operations, body) == (206, ["HeadObject"], b"")
    assert response["Content-Range"] == f"bytes 0-99/{len(data)}"


def test_if_range_is_decided_on_a_head_then_read_under_if_match(ask, bam) -> None:
    data, etag = bam
    matching, body, operations = ask("GET", Range="bytes=0-99", **{"If-Range": etag})
    assert operations == ["HeadObject", "GetObject"]
    assert matching.status_code == 206
    assert body == data[:100]
    # A validator that no longer matches: the whole current object, as RFC 9110 says.
    stale, body, operations = ask("GET", Range="bytes=0-99", **{"If-Range": '"not-the-etag"'})
    assert operations == ["HeadObject", "GetObject"]
    assert stale.status_code == 200
    assert body == data
