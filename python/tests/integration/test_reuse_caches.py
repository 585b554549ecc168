"""What seqr_s3 remembers between requests to save work per IGV range (measured in bench/: presigning and
the registration query were a fifth of an accel request's worker time), and where that memory stops.

Runs in the stand-in's Django inside the test process (seqr_in_process: its rows are deleted in a transaction
rolled back afterwards) against the session's SeaweedFS. The clocks of both memories are moved forward by
replacing their ``clock``; presigning is real botocore, watched by wrapping ``s3._sign`` (it still signs).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from fixtures.credential_process import write_temporary_profiles
from fixtures.standin import write_accel_secret
from s3_track_support import track_url
from seqr_s3 import access, config, paths, s3

PROJECT_1 = "R0001_project_1"


def test_presigned_urls_reused_within_a_third_of_their_life(seqr_in_process, s3_bucket, monkeypatch) -> None:
    seqr_in_process.use("accel")
    settings = config.load_settings()
    bam = s3_bucket["bam"]
    path = paths.parse_s3_path(bam.s3_path)
    signed: list[str] = []
    real_sign = s3._sign

    def watched_sign(settings_: Any, path_: Any, method: str, overrides: Any) -> tuple[str, str]:
        signed.append(method)
        return real_sign(settings_, path_, method, overrides)

    monkeypatch.setattr(s3, "_sign", watched_sign)
    first_get = s3.presign(settings, path)
    # The second GET reuses the first URL; HEAD is signed for HEAD (SigV4 signs the method).
    assert s3.presign(settings, path) == first_get
    head = s3.presign(settings, path, method="HEAD")
    assert signed == ["GET", "HEAD"]
    real_clock = s3._presigned_urls.clock
    window = settings.presign_expiry * s3.PRESIGN_REUSE_FRACTION
    monkeypatch.setattr(s3._presigned_urls, "clock", lambda: real_clock() + window + 1)
    s3.presign(settings, path)
    assert signed == ["GET", "HEAD", "GET"]
    s3.forget_clients()
    monkeypatch.setattr(s3._presigned_urls, "clock", real_clock)
    s3.presign(settings, path)
    assert signed == ["GET", "HEAD", "GET", "GET"]
    # A reused URL is a real, full-lifetime SigV4 URL that S3 accepts for exactly that object.
    assert parse_qs(urlsplit(first_get[0]).query)["X-Amz-Expires"] == ["300"]
    answer = requests.get(first_get[0], headers={"Range": "bytes=0-99"}, timeout=30)
    assert answer.status_code == 206
    assert answer.content == bam.read_local()[:100]
    assert requests.head(head[0], timeout=30).status_code == 200


def test_registrations_trusted_for_seconds_and_refusals_never_remembered(
    seqr_in_process, s3_bucket, monkeypatch
) -> None:
    from seqr.models import IgvSample, Individual

    seqr_in_process.use("accel")
    bam, other_bam = s3_bucket["bam"].s3_path, s3_bucket["project2_bam"].s3_path
    # Trusted for REGISTERED_TTL_SECONDS after the query found them, then asked again.
    assert access.is_registered_to_project(PROJECT_1, bam) is True
    IgvSample.objects.filter(file_path=bam).delete()
    assert access.is_registered_to_project(PROJECT_1, bam) is True
    real_clock = access._registrations.clock
    monkeypatch.setattr(
        access._registrations, "clock", lambda: real_clock() + access.REGISTERED_TTL_SECONDS + 1
    )
    assert access.is_registered_to_project(PROJECT_1, bam) is False
    monkeypatch.setattr(access._registrations, "clock", real_clock)
    # A refusal is not remembered: a path registered right after is served at once.
    assert access.is_registered_to_project(PROJECT_1, other_bam) is False
    # Register the other project's file to this project (the removed sample's individual has a free slot).
    IgvSample.objects.filter(file_path=other_bam).update(individual=Individual.objects.get(guid="I_bam"))
    assert access.is_registered_to_project(PROJECT_1, other_bam) is True


def test_no_grant_outlives_the_role_session_its_url_was_signed_with(
    seqr_in_process, s3_bucket, monkeypatch, tmp_path
) -> None:
    """Authorize-once: nginx keeps a grant's presigned URL for the TTL it asked for, so seqr grants only when
    the URL outlives that TTL. Credentials of a one-minute session (a credential_process profile, the expiry
    an assume_role profile gives) sign URLs S3 accepts for under a minute."""
    config_file, _ = write_temporary_profiles(tmp_path / "aws", {"one_minute": 60})
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    secret_file = write_accel_secret(tmp_path / "accel_secret")
    seqr_in_process.use("accel", PROFILE="one_minute", ACCEL_SECRET_FILE=str(secret_file))
    client = seqr_in_process.client("collaborator")
    url = track_url("", PROJECT_1, s3_bucket["bam"].s3_path)
    nginx_asks = {"HTTP_X_SEQR_S3_ACCEL_SECRET": secret_file.read_text().strip()}
    granted = client.get(url, HTTP_X_SEQR_S3_AUTHORIZE="30", **nginx_asks)
    assert granted.status_code == 200
    assert "X-Amz-Security-Token=" in granted["X-Seqr-S3-Url"]
    declined = client.get(url, HTTP_X_SEQR_S3_AUTHORIZE="60", **nginx_asks)
    assert (declined.status_code, declined.content) == (403, b"")
    assert "X-Seqr-S3-Url" not in declined
    # Without a grant nginx asks the ordinary way, which still answers with a URL to fetch right away.
    ordinary = client.get(url, **nginx_asks)
    assert ordinary["X-Accel-Redirect"] == "/_seqr_s3_internal/"
