"""A hanging S3 holds a gunicorn worker only for a bounded time: seqr's pages keep answering.

The store accepts TCP connections and never answers. The stand-in runs with gunicorn's real sync workers (two)
and the role's default timeouts (CONNECT_TIMEOUT 5, READ_TIMEOUT 30). Reads that need a HEAD (accel's
.bam.bai fallback, proxy's HEAD) are started until both workers are stuck in S3, and more queue behind them;
then an ordinary page must still answer, and every read ends in a clean 504. A HEAD is one attempt with
METADATA_TIMEOUT (5 s by default): the store sees exactly one connection per read. Before, a HEAD was two
attempts of READ_TIMEOUT each (about 60 s), which kept the page waiting for minutes.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest
import requests
from s3_track_support import HangingStore, seqr_s3_config, start_private_standin, track_url

PROJECT_1 = "R0001_project_1"
WORKERS = 2
READS = 4
# Generous: four reads on two workers at METADATA_TIMEOUT each take about 10 s before the page is served;
# with two 30 s attempts per HEAD it would take about two minutes.
PAGE_PATIENCE_SECONDS = 45


@pytest.fixture
def hanging_store() -> Iterator[HangingStore]:
    store = HangingStore()
    try:
        yield store
    finally:
        store.close()


def _wait_for_connections(store: HangingStore, count: int, limit_seconds: float = 60) -> None:
    deadline = time.monotonic() + limit_seconds
    while store.connections < count:
        assert time.monotonic() < deadline, f"only {store.connections} of {count} reads reached the store"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("mode", "method", "track"),
    [
        ("accel", "GET", "s3://seqr-reads/reads/sample.bam.bai"),
        ("proxy", "HEAD", "s3://seqr-reads/reads/sample.bam"),
    ],
)
def test_pages_keep_answering_while_s3_hangs(
    tmp_path, s3_server, s3_bucket, standin_data, seeded_session, hanging_store, mode, method, track
) -> None:
    config = seqr_s3_config(
        mode, s3_server, ENDPOINT_URL=hanging_store.url, CONNECT_TIMEOUT=5, READ_TIMEOUT=30
    )
    standin = start_private_standin(
        tmp_path, s3_server, standin_data.seed, config, s3_server.reader.secret_key, workers=WORKERS
    )
    try:
        session = seeded_session(standin, "collaborator")
        url = track_url(standin.base_url, PROJECT_1, track)
        with concurrent.futures.ThreadPoolExecutor(READS) as pool:
            reads = [pool.submit(session.request, method, url, timeout=300) for _ in range(READS)]
            # Both workers are now waiting on the store; the other reads queue behind them.
            _wait_for_connections(hanging_store, WORKERS)
            page = requests.get(standin.base_url + "/", timeout=PAGE_PATIENCE_SECONDS)
            assert page.status_code == 200
            answers = [read.result() for read in reads]
        assert [answer.status_code for answer in answers] == [504] * READS
        if method == "GET":
            assert all("did not answer in time" in answer.json()["error"] for answer in answers)
        # One attempt per HEAD: one connection per read, no retry.
        assert hanging_store.connections == READS
    finally:
        standin.stop()
