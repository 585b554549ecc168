"""Requester pays (issue 17) on the real hosts: prepare made the reads bucket requester-pays and let a second
S3 user, the payer, read it. With seqr_s3_requester_pays every request and presigned URL of the payer carries
the flag and reads; without it radosgw refuses and seqr answers a clean 403. (The bucket's owner, whose keys
every other test uses, never pays, so the flag changes nothing for it.)
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import testinfra
from conftest import (
    Scenario,
    check_passes,
    ensure_role,
    forget_applied,
    read_bytes,
    read_expecting_error,
)


def as_payer(mode: str, requester_pays: bool, **more: Any) -> dict[str, Any]:
    """The role's variables for the payer's static keys (read from the state folder on the controller)."""
    return {
        "seqr_s3_mode": mode,
        "seqr_s3_aws_access_key_id": "{{ lookup('file', scenario_state_dir + '/payer_access_key') }}",
        "seqr_s3_aws_secret_access_key": "{{ lookup('file', scenario_state_dir + '/payer_secret_key') }}",
        "seqr_s3_requester_pays": requester_pays,
        **more,
    }


@pytest.mark.parametrize("mode", ["proxy", "redirect"])
def test_the_payer_reads_with_the_flag(
    mode: str, scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host
) -> None:
    ensure_role(**as_payer(mode, True))
    response = read_bytes(analyst, scenario, seqr_host, mode)
    if mode == "redirect":
        assert "x-amz-request-payer=requester" in response.headers["Location"]
    check_passes(seqr_host, scenario)


def test_without_the_flag_the_payer_gets_a_clean_403(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host
) -> None:
    try:
        ensure_role(**as_payer("proxy", False, seqr_s3_healthcheck_enabled=False))
        read_expecting_error(analyst, scenario, seqr_host, 403, "S3 denied this server access")
    finally:
        forget_applied()
