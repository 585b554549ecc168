"""The benchmark's readers of server output (bench/): nginx's timing log and py-spy's raw stacks. The
harness's smoke run exercises them against live servers; these pin the cases a short run may not produce
(retried upstreams, hops nginx did not use, idle workers, which part a stack counts for)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from clients import NginxHop, NginxTimingLog  # noqa: E402  (bench/ must be on sys.path first)
from workloads import profile_shares  # noqa: E402

TRACK = "/api/project/R0001_bench/igv_track/s3%3A%2F%2Fbench-reads%2Freads%2Flarge.bam"
# Lines as nginx writes them with stack.NGINX_TIMING_FIELDS (tab-separated).
ACCEL_LINE = "\t".join(
    [
        *(TRACK, "206", "0.007", "127.0.0.1:1 : 127.0.0.1:2", "0.000 : 0.000"),
        *("0.004 : 0.002", "0.004 : 0.003", "200 : 206", "12"),
    ]
)
RETRIED_LINE = "\t".join(
    [
        TRACK,
        "206",
        "0.020",
        "127.0.0.1:1, 127.0.0.1:3",
        "0.001, 0.002",
        "-, 0.010",
        "0.005, 0.011",
        "502, 206",
        "1",
    ]
)
DISK_LINE = "\t".join(["/static/large.bam", "206", "0.000", "-", "-", "-", "-", "-", "3"])


def test_nginx_timing_log_reads_both_hops_of_an_accel_request_from_the_mark_on(tmp_path) -> None:
    log_file = tmp_path / "timing.log"
    log_file.write_text(DISK_LINE + "\n")
    log = NginxTimingLog(log_file)
    log.mark()
    with log_file.open("a") as out:
        out.write("\n".join([ACCEL_LINE, DISK_LINE, "a line of another format", RETRIED_LINE]) + "\n")

    tracks = log.since_mark("/api/project/", expected=2, wait=0)
    assert [t.request_ms for t in tracks] == pytest.approx([7.0, 20.0])
    assert tracks[0].hops == (NginxHop(0.0, 4.0, 4.0), NginxHop(0.0, 2.0, 3.0))
    # A retried upstream: connect and response times add up; a try without headers leaves the header unknown.
    assert tracks[1].hops[0].connect_ms == pytest.approx(3.0)
    assert tracks[1].hops[0].header_ms is None
    assert tracks[1].hops[0].response_ms == pytest.approx(16.0)
    # nginx serving a file has no upstream hop at all.
    (disk,) = log.since_mark("/static/", expected=1, wait=0)
    assert disk.hops == ()


def _stack(*frames: str, count: int) -> str:
    """One line of py-spy's raw output: the process, then frames outermost first, then the sample count."""
    worker = [
        'process 10:"gunicorn: master"',
        'process 11:"gunicorn: worker"',
        "SyncWorker.run_for_one (gunicorn/workers/sync.py:84)",
    ]
    return ";".join([*worker, *frames]) + f" {count}"


def test_profile_shares_leave_out_idle_workers_and_count_each_sample_once() -> None:
    handling = (
        "SyncWorker.accept (gunicorn/workers/sync.py:30)",
        "SyncWorker.handle (gunicorn/workers/sync.py:141)",
    )
    raw = "\n".join(
        [
            _stack("SyncWorker.wait (gunicorn/workers/sync.py:40)", count=500),
            _stack(
                *handling,
                "serve_track (seqr_s3/serving.py:52)",
                "check_access (seqr_s3/access.py:90)",
                "SQLiteCursorWrapper.execute (django/db/backends/sqlite3/base.py:328)",
                count=30,
            ),
            _stack(*handling, "serve_track (seqr_s3/serving.py:56)", "presign (seqr_s3/s3.py:270)", count=10),
            _stack(*handling, "get_user (django/contrib/auth/__init__.py:210)", count=20),
            _stack(*handling, "Response.send_headers (gunicorn/http/wsgi.py:390)", count=15),
            _stack(*handling, "WSGIHandler.__call__ (django/core/handlers/wsgi.py:124)", count=25),
            "a line that is no stack",
        ]
    )
    shares = profile_shares(raw)
    assert shares["busy_samples"] == 100
    assert shares["seqr_s3 access check"] == pytest.approx(30)
    assert shares["seqr_s3 presign"] == pytest.approx(10)
    assert shares["seqr session and user lookup"] == pytest.approx(20)
    assert shares["gunicorn sends the answer"] == pytest.approx(15)
    assert shares["other Django and gunicorn"] == pytest.approx(25)
    assert shares["seqr project permission check"] == 0


def test_profile_shares_refuse_a_profile_without_busy_workers() -> None:
    from clients import BenchError

    with pytest.raises(BenchError, match="no busy gunicorn worker"):
        profile_shares(_stack("SyncWorker.wait (gunicorn/workers/sync.py:40)", count=500))
