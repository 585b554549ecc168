"""Presigned URLs are reused only while the temporary credentials they were signed with still hold most of
their life. The credentials come from botocore's own credential_process provider (the same
RefreshableCredentials an assume_role or web_identity profile gives), run as a real process; nothing is faked
inside botocore.
molecule/s3_networks/tests/test_75_sts.py proves the same against Ceph's STS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.credential_process import write_temporary_profiles
from seqr_s3 import s3
from seqr_s3.config import parse_settings
from seqr_s3.paths import S3Path

PATH = S3Path("reads", "x.bam")


@pytest.fixture
def temporary_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An AWS config whose profiles get credentials from a process: 'hour' for an hour, 'short' for 60 s."""
    config, counter = write_temporary_profiles(tmp_path, {"hour": 3600, "short": 60})
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    s3.forget_clients()
    yield counter
    s3.forget_clients()


def _settings(profile: str):
    return parse_settings(
        {
            "MODE": "redirect",
            "ENDPOINT_URL": "https://rgw.example.org:8443",
            "REGION": "us-east-1",
            "PROFILE": profile,
            "PRESIGN_EXPIRY": 300,
        }
    )


def _key_id(url: str) -> str:
    credential = url.split("X-Amz-Credential=", 1)[1]
    return credential.split("%2F", 1)[0]


def test_the_client_reports_when_its_temporary_credentials_expire(temporary_credentials: Path) -> None:
    settings = _settings("hour")
    s3.presign(settings, PATH)
    left = s3.credentials_seconds_left(s3.get_client(settings))
    assert 3500 < left <= 3600


def test_keys_without_expiry_leave_the_url_its_whole_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    s3.forget_clients()
    settings = parse_settings(
        {"MODE": "redirect", "ENDPOINT_URL": "https://rgw.example.org", "REGION": "us-east-1"}
    )
    s3.presign(settings, PATH)
    assert s3.credentials_seconds_left(s3.get_client(settings)) == float("inf")
    s3.forget_clients()


def _count_signing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every real signing (a reused URL is not signed again; two signed in one second look alike)."""
    signed: list[str] = []
    real_sign = s3._sign

    def watched_sign(*args: Any) -> tuple[str, str]:
        url, host = real_sign(*args)
        signed.append(url)
        return url, host

    monkeypatch.setattr(s3, "_sign", watched_sign)
    return signed


# (profile, a moment the first URL is still reused, a moment it is not): an hour's credentials leave the URL
# its PRESIGN_EXPIRY of 300 s, reused for 100 s; a minute's leave it under 60 s, reused for under 20 s.
REUSE_WINDOWS = [("hour", 99, 101), ("short", 18, 21)]


@pytest.mark.parametrize(("profile", "reused_at", "signed_again_at"), REUSE_WINDOWS, ids=["hour", "minute"])
def test_a_url_is_reused_for_a_third_of_what_its_credentials_leave_it(
    profile: str,
    reused_at: float,
    signed_again_at: float,
    temporary_credentials: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings(profile)
    signed = _count_signing(monkeypatch)
    s3.presign(settings, PATH)
    real_clock = s3._presigned_urls.clock
    monkeypatch.setattr(s3._presigned_urls, "clock", lambda: real_clock() + reused_at)
    s3.presign(settings, PATH)
    assert len(signed) == 1
    monkeypatch.setattr(s3._presigned_urls, "clock", lambda: real_clock() + signed_again_at)
    s3.presign(settings, PATH)
    assert len(signed) == 2
    # botocore renews credentials with under 15 minutes left before it signs: the minute's URL has a new key.
    assert (_key_id(signed[1]) != _key_id(signed[0])) == (profile == "short")
