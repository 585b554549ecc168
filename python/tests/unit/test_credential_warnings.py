"""A role session botocore cannot fetch leaves one log line naming the error, no traceback: botocore logs the
failure with its traceback before raising it to seqr_s3, which answers cleanly (real botocore, an assume_role
profile whose STS is a closed loopback port)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fixtures.credential_process import use_assume_role_profile
from fixtures.seaweed import free_loopback_ports
from seqr_s3 import s3
from seqr_s3.config import parse_settings
from seqr_s3.paths import S3Path


def test_a_failed_role_session_is_one_warning_line_naming_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sts = f"http://127.0.0.1:{free_loopback_ports(1)[0]}"  # nothing listens there
    use_assume_role_profile(tmp_path, sts, monkeypatch)
    settings = parse_settings(
        {"MODE": "proxy", "PROFILE": "seqr_s3", "REGION": "us-east-1", "ENDPOINT_URL": sts}
    )
    s3.forget_clients()
    caplog.set_level(logging.WARNING)
    try:
        with pytest.raises(s3.S3Error):
            s3.head_object(settings, S3Path("seqr-reads", "x.bam"))
    finally:
        s3.forget_clients()
    warnings = [record for record in caplog.records if record.name == "botocore.credentials"]
    assert warnings, "botocore logged nothing about the failed refresh"
    for record in warnings:
        assert record.exc_info is None and record.exc_text is None
        assert "EndpointConnectionError" in record.getMessage(), record.getMessage()
    assert "Traceback" not in caplog.text
