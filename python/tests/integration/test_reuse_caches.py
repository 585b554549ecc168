"""What seqr_s3 remembers between requests to save work per IGV range (measured in bench/: presigning and
the registration query were a fifth of an accel request's worker time), and where that memory stops.

Runs inside the real stand-in (its own SQLite copy, since rows are deleted) against the session's SeaweedFS.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from fixtures.standin import prepare_database, standin_env, write_aws_files
from s3_track_support import run_shell_probe, seqr_s3_config

PROJECT_1 = "R0001_project_1"


def _probe(tmp_path: Path, s3_server, standin_data, probe_input: dict) -> dict:
    aws_files = write_aws_files(
        tmp_path / "aws", s3_server.reader.access_key, s3_server.reader.secret_key, s3_server.region
    )
    config = seqr_s3_config("accel", s3_server)
    env = standin_env(tmp_path / "db.sqlite3", "standin_settings_s3", config, aws_files)
    prepare_database(env, standin_data.seed, tmp_path)
    return run_shell_probe(env, "reuse_probe", probe_input)


def test_presigned_urls_reused_within_a_third_of_their_life_and_registrations_for_seconds(
    tmp_path, s3_server, standin_data, s3_bucket
) -> None:
    bam = s3_bucket["bam"]
    result = _probe(
        tmp_path,
        s3_server,
        standin_data,
        {"project": PROJECT_1, "bam": bam.s3_path, "other_project_bam": s3_bucket["project2_bam"].s3_path},
    )
    # Presigning: the second GET reuses the first URL; HEAD is signed for HEAD (SigV4 signs the method).
    assert result["get_reused"] is True
    assert result["signed_before_window_ends"] == ["GET", "HEAD"]
    assert result["signed_after_window"] == ["GET", "HEAD", "GET"]
    assert result["signed_after_forget"] == ["GET", "HEAD", "GET", "GET"]
    # A reused URL is a real, full-lifetime SigV4 URL that S3 accepts for exactly that object.
    query = parse_qs(urlsplit(result["get_url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    answer = requests.get(result["get_url"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert answer.status_code == 206
    assert answer.content == bam.read_local()[:100]
    assert requests.head(result["head_url"], timeout=30).status_code == 200
    # Registrations: trusted for REGISTERED_TTL_SECONDS after the query found them, then asked again.
    assert result["registered"] is True
    assert result["remembered_after_removal"] is True
    assert result["after_ttl"] is False
    # A refusal is not remembered: a path registered right after is served at once.
    assert result["other_project"] is False
    assert result["registered_right_after_refusal"] is True
