"""Proxy mode asks S3 once for an ordinary IGV range: the GET's own answer tells the size the range decision
needs. Only HEAD requests, If-Range and ranges S3 refuses cost a HEAD (issue 7: a HEAD per range was a
round trip and a botocore call on every request). Answers stay what RFC 9110 asks for, byte for byte.

Runs seqr_s3's view code inside the real stand-in's Django against the session's SeaweedFS.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fixtures.standin import prepare_database, standin_env, write_aws_files
from s3_track_support import RANGE_BATTERY, run_shell_probe, seqr_s3_config


@pytest.fixture(scope="module")
def bam_case_answers(tmp_path_factory, s3_server, standin_data, s3_bucket) -> tuple[bytes, str, list[dict]]:
    """The BAM's bytes, its ETag and the probe's answer to every battery header plus HEAD and If-Range."""
    tmp_path: Path = tmp_path_factory.mktemp("proxy_requests")
    aws_files = write_aws_files(
        tmp_path / "aws", s3_server.reader.access_key, s3_server.reader.secret_key, s3_server.region
    )
    env = standin_env(
        tmp_path / "db.sqlite3", "standin_settings_s3", seqr_s3_config("proxy", s3_server), aws_files
    )
    prepare_database(env, standin_data.seed, tmp_path)
    bam = s3_bucket["bam"]
    data = bam.read_local()
    etag = s3_server.client().head_object(Bucket=s3_bucket.name, Key=bam.key)["ETag"]
    cases = [{"method": "GET", "headers": {"Range": case.header_for(len(data))}} for case in RANGE_BATTERY]
    cases += [
        {"method": "GET", "headers": {}},
        {"method": "HEAD", "headers": {"Range": "bytes=0-99"}},
        {"method": "GET", "headers": {"Range": "bytes=0-99", "If-Range": etag}},
        {"method": "GET", "headers": {"Range": "bytes=0-99", "If-Range": '"not-the-etag"'}},
    ]
    return data, etag, run_shell_probe(env, "proxy_requests_probe", {"path": bam.s3_path, "cases": cases})


def _expect_body(answer: dict, data: bytes, first: int, end: int) -> None:
    assert answer["body_length"] == end - first
    assert answer["body_sha256"] == hashlib.sha256(data[first:end]).hexdigest()


@pytest.mark.parametrize("case", RANGE_BATTERY, ids=lambda case: case.header)
def test_a_get_costs_one_s3_request_unless_s3_refuses_the_range(bam_case_answers, case) -> None:
    data, _, answers = bam_case_answers
    answer = answers[RANGE_BATTERY.index(case)]
    status, first, end = case.expect(len(data))
    assert answer["status"] == status
    if status == 416:
        assert answer["content_range"] == f"bytes */{len(data)}"
        # S3's 416 does not tell the size: one HEAD for it, and no second GET.
        assert answer["operations"].count("GetObject") <= 1
        assert answer["operations"][-1] == "HeadObject"
        return
    assert answer["operations"] == ["GetObject"]
    _expect_body(answer, data, first, end)
    expected_range = f"bytes {first}-{end - 1}/{len(data)}" if status == 206 else None
    assert answer["content_range"] == expected_range
    assert answer["content_length"] == str(end - first)


def test_no_range_is_the_whole_object_from_one_get(bam_case_answers) -> None:
    data, etag, answers = bam_case_answers
    whole = answers[len(RANGE_BATTERY)]
    assert (whole["status"], whole["operations"], whole["etag"]) == (200, ["GetObject"], etag)
    _expect_body(whole, data, 0, len(data))


def test_head_asks_s3_only_for_a_head(bam_case_answers) -> None:
    data, _, answers = bam_case_answers
    head = answers[len(RANGE_BATTERY) + 1]
    assert (head["status"], head["operations"], head["body_length"]) == (206, ["HeadObject"], 0)
    assert head["content_range"] == f"bytes 0-99/{len(data)}"


def test_if_range_is_decided_on_a_head_then_read_under_if_match(bam_case_answers) -> None:
    data, _, answers = bam_case_answers
    matching, stale = answers[len(RANGE_BATTERY) + 2 :]
    assert matching["operations"] == ["HeadObject", "GetObject"]
    assert matching["status"] == 206
    _expect_body(matching, data, 0, 100)
    # A validator that no longer matches: the whole current object, as RFC 9110 says.
    assert stale["operations"] == ["HeadObject", "GetObject"]
    assert stale["status"] == 200
    _expect_body(stale, data, 0, len(data))
