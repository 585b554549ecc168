"""``manage.py seqr_s3_audit`` run in the real stand-in against the session's SeaweedFS.

The stand-in gets a database of its own whose projects hold the cases: good tracks (BAM with .bam.bai, BAM
with only .bai, CRAM with its index named or found next to it), a missing object, a missing index, a path
outside the allow-list, and a project holding only that outside path. The store going away is an endpoint on
a loopback port nobody listens on; "no request at all" is a silent loopback socket that would see any
connection.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.seaweed import free_loopback_ports
from fixtures.standin import (
    S3_SETTINGS_MODULE,
    STANDIN_DIR,
    TESTS_DIR,
    prepare_database,
    standin_env,
    write_aws_files,
)
from fixtures.standin_shapes import standin_of_shape
from s3_track_support import seqr_s3_config, silent_listener
from seqr_s3.management.commands import seqr_s3_audit

GOOD = "R0901_audit_good"
BAD = "R0902_audit_bad"
OUTSIDE_ONLY = "R0903_audit_outside"
MISSING_PATH = "s3://seqr-reads/reads/audit/no_such_sample.bam"
MISSING_INDEX_PATH = "s3://seqr-reads/reads/audit/no_such_index.bam.bai"
# HEAD + one-byte GET of the file, two HEADs for its index: the most the command may ask per sample.
MAX_REQUESTS_PER_SAMPLE = 4


def _seed(bucket: Any, local_bam: Path) -> dict[str, Any]:
    samples = [
        (GOOD, "a_bam", bucket["bam"].s3_path, None),
        (GOOD, "a_only_bai", bucket["only_bai_bam"].s3_path, None),
        (GOOD, "a_cram", bucket["cram"].s3_path, bucket["crai"].s3_path),
        (GOOD, "a_cram_next_to", bucket["cram"].s3_path, None),
        (GOOD, "a_local", str(local_bam), None),
        (BAD, "b_missing", MISSING_PATH, None),
        (BAD, "b_no_index", bucket["large"].s3_path, None),
        (BAD, "b_outside", bucket["private_bam"].s3_path, None),
        (BAD, "b_gone_index", bucket["bam"].s3_path, MISSING_INDEX_PATH),
        (OUTSIDE_ONLY, "c_outside", bucket["private_bam"].s3_path, None),
    ]
    families = {GOOD: "F_audit_a", BAD: "F_audit_b", OUTSIDE_ONLY: "F_audit_c"}
    return {
        "projects": [{"guid": guid, "name": guid} for guid in families],
        "families": [{"guid": family, "project": guid} for guid, family in families.items()],
        "individuals": [{"guid": f"I_{name}", "family": families[guid]} for guid, name, _, _ in samples],
        "igv_samples": [
            {
                "guid": f"S_{name}",
                "individual": f"I_{name}",
                "sample_type": "alignment",
                "file_path": path,
                "index_file_path": index,
            }
            for _, name, path, index in samples
        ],
    }


@pytest.fixture(scope="module")
def audit_env(tmp_path_factory, s3_server, s3_bucket, reads) -> dict[str, str]:
    """The stand-in's environment (settings with seqr_s3, seqr's read-only keys) over its own database."""
    workdir = tmp_path_factory.mktemp("audit")
    aws_files = write_aws_files(
        workdir / "aws", s3_server.reader.access_key, s3_server.reader.secret_key, s3_server.region
    )
    config = seqr_s3_config("proxy", s3_server)
    env = standin_env(workdir / "db.sqlite3", S3_SETTINGS_MODULE, config, aws_files)
    prepare_database(env, _seed(s3_bucket, reads.bam), workdir)
    return env


def with_config(env: dict[str, str], **overrides: Any) -> dict[str, str]:
    """The same stand-in and database with SEQR_S3 keys changed."""
    config = {**json.loads(env["SEQR_S3_TEST_CONFIG"]), **overrides}
    return {**env, "SEQR_S3_TEST_CONFIG": json.dumps(config)}


def audit(env: dict[str, str], *args: str, standin: Path = STANDIN_DIR) -> subprocess.CompletedProcess:
    """Run the command; output as bytes, so that object bytes would show if any were printed."""
    return run_manage(env, standin, "seqr_s3_audit", *args)


def run_manage(env: dict[str, str], standin: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=standin,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def text_of(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr).decode("utf-8", errors="replace")


def report_of(result: subprocess.CompletedProcess) -> dict[str, Any]:
    return json.loads(result.stdout)


def rows_by_sample(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["sample"]: row for row in report["samples"]}


def assert_nothing_secret(result: subprocess.CompletedProcess, s3_server: Any) -> None:
    """No key, no presigned URL or signature, no object bytes, no traceback."""
    output = result.stdout + result.stderr
    for credentials in (s3_server.reader, s3_server.admin):
        assert credentials.access_key.encode() not in output
        assert credentials.secret_key.encode() not in output
    for marker in (b"X-Amz-", b"Signature", b"Credential=", b"AWSAccessKeyId", b"Traceback"):
        assert marker not in output, marker
    # BAM files (and their BGZF blocks) start with gzip's magic; CRAM with "CRAM".
    assert b"\x1f\x8b" not in output and b"CRAM" not in output


def test_good_tracks_pass(audit_env, s3_server, s3_bucket) -> None:
    result = audit(audit_env, "--project", GOOD, "--json")
    assert result.returncode == 0, text_of(result)
    report = report_of(result)
    assert report["ok"] is True and report["samples_with_problems"] == 0
    rows = rows_by_sample(report)
    # The sample with a local file is none of this command's business.
    assert set(rows) == {"S_a_bam", "S_a_only_bai", "S_a_cram", "S_a_cram_next_to"}
    for row in rows.values():
        verdict = [row[column] for column in ("allowed", "object", "index", "read", "ok")]
        assert verdict == [True, "ok", "ok", "ok", True], row
        assert row["problems"] == [] and row["project"] == GOOD
        assert 1 <= row["s3_requests"] <= MAX_REQUESTS_PER_SAMPLE
    assert rows["S_a_bam"]["size"] == len(s3_bucket["bam"].read_local())
    # The index igv.js will get: x.bam.bai, x.bai when only that exists, the named .crai, x.cram.crai.
    assert rows["S_a_bam"]["index_path"] == s3_bucket["bam_bai"].s3_path
    assert rows["S_a_only_bai"]["index_path"] == s3_bucket["only_bai"].s3_path
    assert rows["S_a_cram"]["index_path"] == s3_bucket["crai"].s3_path
    assert rows["S_a_cram_next_to"]["index_path"] == s3_bucket["crai"].s3_path
    assert_nothing_secret(result, s3_server)

    table = audit(audit_env, "--project", GOOD)
    assert table.returncode == 0, text_of(table)
    lines = table.stdout.decode().splitlines()
    assert "credentials=shared-credentials-file" in lines[0]
    assert lines[1].split() == ["RESULT", "PROJECT", "SAMPLE", "ALLOWED", "OBJECT", "INDEX", "READ", "PATH"]
    bam_line = next(line for line in lines if " S_a_bam " in line)
    assert bam_line.split()[:7] == ["OK", GOOD, "S_a_bam", "yes", "ok", "ok", "ok"]
    assert bam_line.endswith(s3_bucket["bam"].s3_path)
    assert lines[-1] == "4 sample(s) checked, 0 with problems"
    assert_nothing_secret(table, s3_server)


def test_each_problem_is_named_and_fails_the_audit(audit_env, s3_server, s3_bucket) -> None:
    result = audit(audit_env, "--project", BAD, "--json")
    assert result.returncode == 1, text_of(result)
    report = report_of(result)
    assert report["ok"] is False and report["samples_with_problems"] == 4
    rows = rows_by_sample(report)

    missing = rows["S_b_missing"]
    verdict = [missing[column] for column in ("allowed", "object", "read", "index")]
    assert verdict == [True, "missing", "-", "missing"]
    assert f"file: {MISSING_PATH} does not exist" in missing["problems"]

    no_index = rows["S_b_no_index"]
    large = s3_bucket["large"].s3_path
    assert (no_index["object"], no_index["read"], no_index["index"]) == ("ok", "ok", "missing")
    assert no_index["problems"] == [
        f"index: none found; igv.js looks for {large}.bai or {large.removesuffix('.bam')}.bai"
    ]
    assert no_index["s3_requests"] == MAX_REQUESTS_PER_SAMPLE

    outside = rows["S_b_outside"]
    checked = (outside["allowed"], outside["object"], outside["index"], outside["read"])
    assert checked == (False, "-", "-", "-")
    assert outside["s3_requests"] == 0
    assert "outside SEQR_S3 ALLOWED_PREFIXES" in outside["problems"][0]

    gone_index = rows["S_b_gone_index"]
    assert (gone_index["object"], gone_index["read"], gone_index["index"]) == ("ok", "ok", "missing")
    assert gone_index["problems"] == [f"index: {MISSING_INDEX_PATH} does not exist"]
    assert_nothing_secret(result, s3_server)

    table = audit(audit_env, "--project", BAD)
    assert table.returncode == 1
    output = table.stdout.decode()
    assert f"{BAD} S_b_missing: file: {MISSING_PATH} does not exist" in output
    outside_line = next(line for line in output.splitlines() if " S_b_outside " in line)
    assert outside_line.split()[:7] == ["PROBLEM", BAD, "S_b_outside", "no", "-", "-", "-"]
    assert output.splitlines()[-1] == "4 sample(s) checked, 4 with problems"
    assert "4 of 4 sample(s) have problems" in table.stderr.decode()
    assert_nothing_secret(table, s3_server)


def test_all_projects_and_the_limit(audit_env) -> None:
    everything = report_of(audit(audit_env, "--json"))
    assert {row["project"] for row in everything["samples"]} == {GOOD, BAD, OUTSIDE_ONLY}
    assert everything["samples_total"] == everything["samples_checked"] == 9

    limited = audit(audit_env, "--json", "--limit", "2")
    assert limited.returncode == 1
    report = report_of(limited)
    assert (report["samples_checked"], report["samples_not_checked"]) == (2, 7)
    assert "7 sample(s) not checked (--limit 2)" in limited.stderr.decode()


def test_bad_arguments_are_refused_clearly(audit_env) -> None:
    unknown = audit(audit_env, "--project", "R9999_nope")
    assert unknown.returncode == 2
    assert "there is no seqr project with guid 'R9999_nope'" in unknown.stderr.decode()
    for value in ("0", "lots"):
        refused = audit(audit_env, "--limit", value)
        assert refused.returncode != 0
        assert "--limit" in refused.stderr.decode() and b"Traceback" not in refused.stderr


def connections_made(listener: socket.socket) -> int:
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_a_path_outside_the_allow_list_is_never_requested(audit_env) -> None:
    with silent_listener() as listener:
        port = listener.getsockname()[1]
        env = with_config(audit_env, ENDPOINT_URL=f"http://127.0.0.1:{port}", READ_TIMEOUT=1)
        result = audit(env, "--project", OUTSIDE_ONLY, "--json")
        assert result.returncode == 1
        (row,) = report_of(result)["samples"]
        assert (row["allowed"], row["object"], row["s3_requests"]) == (False, "-", 0)
        assert connections_made(listener) == 0
        # The same endpoint does see an allowed path's request, which times out (one attempt, then no more).
        allowed = audit(env, "--project", GOOD, "--json")
        assert allowed.returncode == 1
        assert connections_made(listener) == 1
    first, *others = report_of(allowed)["samples"]
    assert first["object"] == "unreachable" and first["s3_requests"] == 1
    assert "S3 did not answer in time" in first["problems"][0]
    assert all(row["s3_requests"] == 0 and row["object"] == "unreachable" for row in others)


def test_a_store_that_is_down(audit_env, s3_server) -> None:
    (closed_port,) = free_loopback_ports(1)
    env = with_config(audit_env, ENDPOINT_URL=f"http://127.0.0.1:{closed_port}")
    result = audit(env, "--project", GOOD, "--json")
    assert result.returncode == 1, text_of(result)
    rows = report_of(result)["samples"]
    assert len(rows) == 4
    for row in rows:
        assert (row["object"], row["ok"]) == ("unreachable", False), row
        assert "cannot reach the S3 endpoint" in row["problems"][0] or "not asked" in row["problems"][0]
    # Only the first sample's first request went out; the others say why they were not asked.
    assert [row["s3_requests"] for row in rows] == [1, 0, 0, 0]
    assert "cannot reach the S3 endpoint" in rows[0]["problems"][0]
    assert_nothing_secret(result, s3_server)

    table = audit(env, "--project", GOOD)
    assert table.returncode == 1
    output = table.stdout.decode()
    assert output.count("PROBLEM") == 4 and output.count(" unreachable ") == 8
    assert "4 of 4 sample(s) have problems" in table.stderr.decode()
    assert_nothing_secret(table, s3_server)


def test_keys_the_store_refuses(audit_env, tmp_path, s3_server) -> None:
    wrong = write_aws_files(tmp_path / "aws", s3_server.reader.access_key, "W" * 40, s3_server.region)
    result = audit({**audit_env, **wrong.env()}, "--project", GOOD, "--json")
    assert result.returncode == 1
    for row in report_of(result)["samples"]:
        assert row["object"] == "denied", row
        assert "S3 denied this server access" in row["problems"][0]
    assert_nothing_secret(result, s3_server)


def test_seqr_before_index_file_path(audit_env, tmp_path, s3_server, s3_bucket, reads) -> None:
    """seqr before 2024-08 has no IgvSample.index_file_path: the audit looks for indexes next to each file."""
    standin = standin_of_shape(tmp_path / "seqr_standin", "2024-04")
    env = {
        **audit_env,
        "SEQR_STANDIN_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": f"{standin}:{TESTS_DIR}",
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(_seed(s3_bucket, reads.bam)))
    for command in (("migrate", "--noinput", "-v", "0"), ("standin_seed", str(seed_file))):
        prepared = run_manage(env, standin, *command)
        assert prepared.returncode == 0, text_of(prepared)

    result = audit(env, "--json", standin=standin)
    assert result.returncode == 1, text_of(result)
    rows = rows_by_sample(report_of(result))
    # Without the field the named indexes are unknown: the CRAM's index is found next to it, the BAM whose
    # named index was missing now gets its .bam.bai.
    assert rows["S_a_cram"]["index_path"] == s3_bucket["crai"].s3_path and rows["S_a_cram"]["ok"]
    assert (
        rows["S_b_gone_index"]["index_path"] == s3_bucket["bam_bai"].s3_path and rows["S_b_gone_index"]["ok"]
    )
    failing = sorted(sample for sample, row in rows.items() if not row["ok"])
    assert failing == ["S_b_missing", "S_b_no_index", "S_b_outside", "S_c_outside"]


def test_index_candidates_are_the_ones_seqr_serves() -> None:
    # igv.js asks for x.bam.bai and seqr falls back to x.bai; for CRAM it asks for x.cram.crai and seqr has no
    # fallback, so an x.crai beside a CRAM would pass an audit and still not load.
    assert seqr_s3_audit._implicit_index_paths("s3://b/x.bam") == ["s3://b/x.bam.bai", "s3://b/x.bai"]
    assert seqr_s3_audit._implicit_index_paths("s3://b/x.cram") == ["s3://b/x.cram.crai"]
    assert seqr_s3_audit._implicit_index_paths("s3://b/x.vcf.gz") == []
