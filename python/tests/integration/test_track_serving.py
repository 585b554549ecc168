"""IGV track reads of s3:// paths through the live stand-in, in every serving mode, checked byte for byte.

proxy: gunicorn streams; accel: the role's nginx site fetches the presigned URL (with authorize once, the
role's default, and without: a seqr request per range); redirect: the client follows a 302 to SeaweedFS. In
redirect mode S3 answers the Range itself, so only well-formed headers are held to RFC 9110 there; proxy and
accel (both ways) must get every case of the battery right.
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate
from pathlib import Path

import pytest
import requests
from fixtures.standin import accel_secret_of
from s3_track_support import (
    RANGE_BATTERY,
    RangeCase,
    Stack,
    assert_answer,
    seqr_s3_config,
    start_private_standin,
    track_url,
)

PROJECT_1 = "R0001_project_1"


def fetch(stack: Stack, track_path: str, method: str = "GET", **headers: str) -> requests.Response:
    """Ask for a track the way igv.js does (the redirect mode's 302 is followed, as a browser does)."""
    return stack.session.request(
        method,
        track_url(stack.base_url, PROJECT_1, track_path),
        headers=headers,
        timeout=60,
        allow_redirects=True,
    )


@pytest.mark.parametrize("case", RANGE_BATTERY, ids=lambda case: case.header)
def test_range_battery(battery_stack: Stack, s3_bucket, case: RangeCase) -> None:
    """Every case, malformed and multi ranges too: proxy mode, and accel with authorize once on and off."""
    bam = s3_bucket["bam"]
    data = bam.read_local()
    assert len(data) > 131081, "the battery needs a BAM larger than its fixed ranges"
    response = fetch(battery_stack, bam.s3_path, Range=case.header_for(len(data)))
    assert_answer(response, case, data)
    if battery_stack.mode == "proxy":
        assert response.headers["Accept-Ranges"] == "bytes"
    else:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("case", [c for c in RANGE_BATTERY if c.well_formed], ids=lambda case: case.header)
def test_well_formed_ranges_in_every_mode(stack: Stack, s3_bucket, case: RangeCase) -> None:
    bam = s3_bucket["bam"]
    data = bam.read_local()
    assert_answer(fetch(stack, bam.s3_path, Range=case.header_for(len(data))), case, data)


def test_whole_bam_without_range_is_the_whole_object(stack: Stack, s3_bucket) -> None:
    for name in ("bam", "large"):
        expected = s3_bucket[name].read_local()
        response = fetch(stack, s3_bucket[name].s3_path)
        assert response.status_code == 200, response.text[:200]
        assert int(response.headers["Content-Length"]) == len(expected)
        assert response.content == expected, name


def test_ranges_of_the_large_object_across_chunk_boundaries(stack: Stack, s3_bucket) -> None:
    large = s3_bucket["large"]
    data = large.read_local()
    for first, last in (
        (0, 65535),
        (65535, 65536),
        (1_000_000, 3_999_999),
        (len(data) - 70000, len(data) - 1),
    ):
        response = fetch(stack, large.s3_path, Range=f"bytes={first}-{last}")
        assert response.status_code == 206
        assert response.content == data[first : last + 1], (first, last)


def test_etag_and_last_modified_are_the_objects(stack: Stack, s3_bucket) -> None:
    bam = s3_bucket["bam"]
    head = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key=bam.key)
    response = fetch(stack, bam.s3_path, Range="bytes=0-9")
    assert response.status_code == 206
    assert response.headers["ETag"] == head["ETag"]
    assert response.headers["Last-Modified"] == formatdate(head["LastModified"].timestamp(), usegmt=True)


def test_head_reports_without_a_body(stack: Stack, s3_bucket) -> None:
    bam = s3_bucket["bam"]
    size = len(bam.read_local())
    whole = fetch(stack, bam.s3_path, method="HEAD")
    assert whole.status_code == 200
    assert int(whole.headers["Content-Length"]) == size
    assert whole.content == b""
    if stack.mode == "redirect":
        return  # S3 itself answers a HEAD there, and SeaweedFS ignores Range on HEAD (AWS honours it)
    part = fetch(stack, bam.s3_path, method="HEAD", Range="bytes=10-19")
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{size}"
    assert int(part.headers["Content-Length"]) == 10
    assert part.content == b""


def test_if_range(proxy_stack: Stack, s3_bucket) -> None:
    bam = s3_bucket["bam"]
    data = bam.read_local()
    first = fetch(proxy_stack, bam.s3_path, Range="bytes=0-0")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]

    assert fetch(proxy_stack, bam.s3_path, Range="bytes=5-9", **{"If-Range": etag}).content == data[5:10]
    assert fetch(proxy_stack, bam.s3_path, Range="bytes=5-9", **{"If-Range": modified}).status_code == 206

    for stale in ('"not-the-etag"', f"W/{etag}", "Thu, 01 Jan 2015 00:00:00 GMT"):
        response = fetch(proxy_stack, bam.s3_path, Range="bytes=5-9", **{"If-Range": stale})
        assert response.status_code == 200, stale
        assert response.content == data, stale


def test_index_fallback_bam_bai_to_bai(stack: Stack, s3_bucket) -> None:
    # igv.js asks for <bam>.bai; only <name>.bai exists: seqr's fallback (via our does_file_exist) swaps.
    asked_for = s3_bucket["only_bai_bam"].s3_path + ".bai"
    response = fetch(stack, asked_for)
    assert response.status_code == 200, response.text[:200]
    assert response.content == s3_bucket["only_bai"].read_local()


@pytest.mark.parametrize(
    ("data_name", "index_name"),
    [
        ("bam", "bam_bai"),
        ("cram", "crai"),
        ("unicode_bam", "unicode_bai"),
        ("odd_chars_bam", "odd_chars_bai"),
    ],
)
def test_tracks_and_their_indexes(stack: Stack, s3_bucket, data_name: str, index_name: str) -> None:
    """Keys with spaces, unicode, '+', '%' and parentheses survive the browser's encoding and every hop."""
    track, index = s3_bucket[data_name], s3_bucket[index_name]
    data = track.read_local()
    response = fetch(stack, track.s3_path, Range="bytes=100-4195")
    assert response.status_code == 206, response.text[:200]
    assert response.content == data[100:4196]
    index_response = fetch(stack, index.s3_path)
    assert index_response.status_code == 200, index_response.text[:200]
    assert index_response.content == index.read_local()


def test_accel_mode_hands_nginx_a_signed_url(make_stack, s3_bucket) -> None:
    """Straight at gunicorn with the secret nginx sends, accel mode answers with the headers the role's nginx
    site reads."""
    standin = make_stack("accel").standin
    session = requests.Session()
    session.cookies.update(make_stack("accel").session.cookies)
    session.headers["X-Seqr-S3-Accel-Secret"] = accel_secret_of(standin.env)
    response = session.get(track_url(standin.base_url, PROJECT_1, s3_bucket["bam"].s3_path), timeout=30)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["X-Accel-Redirect"] == "/_seqr_s3_internal/"
    assert response.headers["X-Seqr-S3-Host"] == s3_bucket.server.endpoint_url.removeprefix("http://")
    # No Range from the client: nginx is told to send none.
    assert response.headers["X-Seqr-S3-Range"] == ""
    for client_range, canonical in (
        ("BYTES=5-9,", "bytes=5-9"),
        ("bytes=-300", "bytes=-300"),
        ("bytes=9-5", ""),
    ):
        answer = session.get(
            track_url(standin.base_url, PROJECT_1, s3_bucket["bam"].s3_path),
            headers={"Range": client_range},
            timeout=30,
        )
        assert answer.headers["X-Seqr-S3-Range"] == canonical, client_range
    # If-Range is decided here too (SeaweedFS ignores it): a stale validator means the whole object.
    etag = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key=s3_bucket["bam"].key)["ETag"]
    for validator, canonical in ((etag, "bytes=5-9"), ('"stale"', "")):
        answer = session.get(
            track_url(standin.base_url, PROJECT_1, s3_bucket["bam"].s3_path),
            headers={"Range": "bytes=5-9", "If-Range": validator},
            timeout=30,
        )
        assert answer.headers["X-Seqr-S3-Range"] == canonical, validator
    signed = response.headers["X-Seqr-S3-Url"]
    assert "X-Amz-Signature=" in signed and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in signed
    # The URL works on its own for exactly this object (and only with the Host it was signed for).
    direct = requests.get(signed, headers={"Range": "bytes=0-99"}, timeout=30)
    assert direct.status_code == 206
    assert direct.content == s3_bucket["bam"].read_local()[:100]


def test_redirect_mode_answers_302_to_a_presigned_url(make_stack, s3_bucket) -> None:
    stack = make_stack("redirect")
    response = stack.session.get(
        track_url(stack.base_url, PROJECT_1, s3_bucket["bam"].s3_path), timeout=30, allow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(
        s3_bucket.server.endpoint_url + "/seqr-reads/reads/sample.bam?"
    )
    assert "no-store" in response.headers["Cache-Control"]


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM), which no later freeing can hide."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for pid {pid}")


def _worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    assert len(children) == 1, f"expected one gunicorn worker, found {children}"
    return int(children[0])


def test_proxy_memory_stays_flat_for_a_whole_large_object(
    tmp_path_factory, s3_server, standin_data, seeded_session, s3_bucket
) -> None:
    """Streaming the 8 MiB object whole, twice, must not raise the worker peak memory anywhere near 8 MiB."""
    server = start_private_standin(
        tmp_path_factory.mktemp("standin_memory"),
        s3_server,
        standin_data.seed,
        seqr_s3_config("proxy", s3_server, CHUNK_SIZE=65536),
        s3_server.reader.secret_key,
        workers=1,
    )
    try:
        session = seeded_session(server, "collaborator")
        large = s3_bucket["large"]
        url = track_url(server.base_url, PROJECT_1, large.s3_path)
        # Warm up: the boto3 client and every code path of a streamed answer exist before measuring.
        for _ in range(3):
            assert session.get(url, headers={"Range": "bytes=0-131071"}, timeout=60).status_code == 206
        worker = _worker_pid(server.process.pid)
        before = _peak_rss_kib(worker)
        expected = large.read_local()
        for _ in range(2):
            received = hashlib.sha256()
            with session.get(url, stream=True, timeout=120) as response:
                assert response.status_code == 200
                for chunk in response.iter_content(65536):
                    received.update(chunk)
            assert received.hexdigest() == hashlib.sha256(expected).hexdigest()
        growth_kib = _peak_rss_kib(worker) - before
        assert growth_kib < 3 * 1024, f"worker peak memory grew by {growth_kib} KiB for an 8 MiB object"
    finally:
        server.stop()
