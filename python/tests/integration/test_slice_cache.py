"""The role's optional nginx slice cache (seqr_s3_nginx_slice_cache) in accel mode, through real nginx,
gunicorn (the stand-in with seqr_s3) and SeaweedFS, in both upstream variants (a URL per request, and the
keep-alive pool to one fixed endpoint).

S3 is reached through a TCP forwarder this module can switch off: a read answered while S3 is unreachable can
only have come from the cache. The same reads through the accel site without the cache are the reference the
cached answers must equal byte for byte, including seqr's handling of malformed ranges and unsatisfiable ones.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from fixtures.nginx import worker_owned_folder
from fixtures.standin import login_session
from s3_track_support import RANGE_BATTERY, RangeCase, TcpForwarder, track_url

PROJECT_1 = "R0001_project_1"
PROJECT_2 = "R0002_project_2"
SLICE_SIZE = 1 << 20
# nginx names a finished cache file by the MD5 of its key.
FINAL_CACHE_NAME = re.compile(r"[0-9a-f]{32}")


@dataclass
class CacheFront:
    """One nginx with the slice cache in front of the accel stand-in."""

    name: str
    base_url: str
    cache_dir: Path
    session: requests.Session

    def cached_files(self) -> set[Path]:
        return {path for path in (self.cache_dir / "slices").rglob("*") if path.is_file()}

    def settled_slices(self, wait_seconds: float = 60) -> set[Path]:
        """The cached slices once nginx has finished writing them. A client's range can be answered before
        the whole slice holding it has come from S3; until then nginx writes it to ``<key>.<number>`` beside
        its final name (use_temp_path=off), and a second read of it still goes to S3."""
        deadline = time.monotonic() + wait_seconds
        while True:
            files = self.cached_files()
            if all(FINAL_CACHE_NAME.fullmatch(path.name) for path in files) or time.monotonic() > deadline:
                return files
            time.sleep(0.05)

    def empty(self) -> None:
        """Delete every cached slice (nginx then treats its remembered keys as misses)."""
        for path in self.cached_files():
            path.unlink()


@pytest.fixture(scope="module")
def forwarder(s3_server) -> Iterator[TcpForwarder]:
    relay = TcpForwarder(int(s3_server.endpoint_url.rsplit(":", 1)[1]))
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


@pytest.fixture(scope="module")
def fronts(
    standin_factory: Callable, nginx_factory: Callable, seeded_session: Callable, forwarder: TcpForwarder
) -> Iterator[dict[str, CacheFront]]:
    """``plain`` and ``pooled`` (keep-alive to S3) cache fronts; ``reference``: the accel site, no cache."""
    standin = standin_factory("accel", ENDPOINT_URL=forwarder.url, CONNECT_TIMEOUT=2)
    folders: list[Path] = []
    built: dict[str, CacheFront] = {}
    try:
        for name, extra in (
            # A URL per request (the fixed endpoint's pool switched off), and the pool to the servers named.
            ("plain", {"seqr_s3_nginx_s3_keepalive_pool": False}),
            ("pooled", {"seqr_s3_nginx_s3_keepalive_servers": [f"127.0.0.1:{forwarder.port}"]}),
        ):
            folders.append(worker_owned_folder("seqr_s3_slices_"))
            role_vars = {
                "seqr_s3_endpoint_url": forwarder.url,
                "seqr_s3_nginx_slice_cache": True,
                "seqr_s3_nginx_slice_cache_path": str(folders[-1]),
                **extra,
            }
            server = nginx_factory(standin, **role_vars)
            assert "proxy_cache seqr_s3_slices;" in server.site_text
            built[name] = CacheFront(
                name, server.base_url, folders[-1], seeded_session(server, "collaborator")
            )
        reference = nginx_factory(standin, seqr_s3_endpoint_url=forwarder.url)
        assert "seqr_s3_slices" not in reference.site_text
        built["reference"] = CacheFront(
            "reference", reference.base_url, Path("/nonexistent"), seeded_session(reference, "collaborator")
        )
        yield built
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["plain", "pooled"])
def front(request: pytest.FixtureRequest, fronts: dict[str, CacheFront]) -> CacheFront:
    return fronts[request.param]


def fetch(front: CacheFront, track_path: str, method: str = "GET", project: str = PROJECT_1, **headers: str):
    return front.session.request(
        method, track_url(front.base_url, project, track_path), headers=headers, timeout=60
    )


def answer_of(response: requests.Response) -> tuple:
    """What a client can tell apart: status, the range headers, the length and the bytes."""
    return (
        response.status_code,
        response.headers.get("Content-Range"),
        response.headers.get("Content-Length"),
        response.content,
    )


@pytest.mark.parametrize("case", RANGE_BATTERY, ids=lambda case: case.header)
def test_range_battery_equals_accel_without_cache_cold_and_warm(
    front: CacheFront, fronts: dict[str, CacheFront], s3_bucket, case: RangeCase
) -> None:
    large = s3_bucket["large"]
    data = large.read_local()
    header = case.header_for(len(data))
    reference = fetch(fronts["reference"], large.s3_path, Range=header)
    status, first, end = case.expect(len(data))
    assert reference.status_code == status, f"reference {header!r}: {reference.status_code}"
    if status in (200, 206):
        assert reference.content == data[first:end]
    for attempt in ("cold", "warm"):
        cached = fetch(front, large.s3_path, Range=header)
        assert answer_of(cached) == answer_of(reference), f"{attempt} {header!r}"


def test_cold_read_fills_the_cache_and_a_warm_one_needs_no_s3(
    front: CacheFront, forwarder: TcpForwarder, s3_bucket
) -> None:
    large = s3_bucket["large"]
    data = large.read_local()
    front.empty()
    offset = 3 * SLICE_SIZE + 4096
    header = f"bytes={offset}-{offset + 65535}"
    cold = fetch(front, large.s3_path, Range=header)
    assert (cold.status_code, cold.content) == (206, data[offset : offset + 65536])
    assert len(front.settled_slices()) == 1, "one slice fetched, one cache file"

    forwarder.stop()
    try:
        warm = fetch(front, large.s3_path, Range=header)
        assert answer_of(warm) == answer_of(cold)
        # The same slice answers any range inside it.
        inside = fetch(front, large.s3_path, Range=f"bytes={3 * SLICE_SIZE}-{4 * SLICE_SIZE - 1}")
        assert inside.content == data[3 * SLICE_SIZE : 4 * SLICE_SIZE]
        # The control: a slice that was never read needs S3, which is gone.
        uncached = fetch(front, large.s3_path, Range=f"bytes={6 * SLICE_SIZE}-{6 * SLICE_SIZE + 9}")
        assert uncached.status_code == 502
        assert uncached.json()["error"].startswith("cannot reach the S3 endpoint to read s3://")
    finally:
        forwarder.start()
    # The failure was not cached: with S3 back the same range is read.
    again = fetch(front, large.s3_path, Range=f"bytes={6 * SLICE_SIZE}-{6 * SLICE_SIZE + 9}")
    assert (again.status_code, again.content) == (206, data[6 * SLICE_SIZE : 6 * SLICE_SIZE + 10])


def test_a_whole_index_is_assembled_from_slices_and_served_warm(
    front: CacheFront, forwarder: TcpForwarder, s3_bucket
) -> None:
    # The CRAM's index: seqr looks a .bam.bai up in S3 before serving it (the .bai fallback) but serves a
    # .crai straight away, so only the read itself can need S3 here.
    crai = s3_bucket["crai"]
    expected = crai.read_local()
    cold = fetch(front, crai.s3_path)
    assert (cold.status_code, cold.content) == (200, expected)
    forwarder.stop()
    try:
        warm = fetch(front, crai.s3_path)
    finally:
        forwarder.start()
    assert answer_of(warm) == answer_of(cold)


@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=100-199"}, {"Range": "bytes=-1"}], ids=str)
def test_head_answers_like_get_without_a_body(
    front: CacheFront, fronts: dict[str, CacheFront], s3_bucket, headers: dict[str, str]
) -> None:
    bam = s3_bucket["bam"]
    reference = fetch(fronts["reference"], bam.s3_path, "HEAD", **headers)
    for attempt in ("cold", "warm"):
        head = fetch(front, bam.s3_path, "HEAD", **headers)
        get = fetch(front, bam.s3_path, **headers)
        assert head.content == b"", attempt
        assert answer_of(head)[:3] == answer_of(reference)[:3] == answer_of(get)[:3], attempt
        assert get.status_code in (200, 206)


def test_users_without_access_are_refused_while_the_slices_are_cached(
    front: CacheFront, standin_data, s3_bucket
) -> None:
    bam = s3_bucket["bam"]
    data = bam.read_local()
    warm = fetch(front, bam.s3_path, Range="bytes=0-65535")
    assert (warm.status_code, warm.content) == (206, data[:65536])
    assert front.settled_slices(), "the slice is on disk"

    member_of_project_2 = standin_data.users["other"]
    other = login_session(front.base_url, member_of_project_2.email, member_of_project_2.password)
    for project in (PROJECT_1, PROJECT_2):
        refused = other.get(
            track_url(front.base_url, project, bam.s3_path), headers={"Range": "bytes=0-65535"}, timeout=60
        )
        assert refused.status_code == 403, project
        assert data[:4] not in refused.content
    anonymous = requests.get(
        track_url(front.base_url, PROJECT_1, bam.s3_path), headers={"Range": "bytes=0-65535"}, timeout=60
    )
    assert anonymous.status_code == 401
    assert data[:4] not in anonymous.content


def test_store_errors_are_clean_and_never_cached(front: CacheFront, s3_bucket, s3_server) -> None:
    # <registered bam>.tbi passes seqr's access check as a derived index name, but does not exist in S3 yet.
    bam = s3_bucket["bam"]
    tbi_key = bam.key + ".tbi"
    before = front.settled_slices()
    missing = fetch(front, bam.s3_path + ".tbi", Range="bytes=0-9")
    assert (missing.status_code, missing.text) == (404, "Not found in the read store\n")
    assert missing.headers.get("x-amz-request-id") is None
    assert front.settled_slices() == before, "a 404 must not be cached"

    admin = s3_server.client()
    admin.put_object(Bucket=s3_bucket.name, Key=tbi_key, Body=b"0123456789abcdef")
    try:
        found = fetch(front, bam.s3_path + ".tbi", Range="bytes=0-9")
        assert (found.status_code, found.content) == (206, b"0123456789")
    finally:
        admin.delete_object(Bucket=s3_bucket.name, Key=tbi_key)
