"""assume_role against radosgw's own STS (issue 17), on the real hosts and over HTTPS with the private CA: the
role writes a profile whose source credentials are the S3 user's static keys, botocore asks radosgw's STS for
a role session, and seqr reads with it. A role whose policy denies the bucket gives a clean 403, and a role
session that has expired is renewed without a restart of seqr.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import testinfra
from conftest import (
    MANAGE,
    RANGE,
    Scenario,
    check_passes,
    ensure_role,
    fetch_redirect,
    forget_applied,
    read,
    read_bytes,
    read_expecting_error,
)

# The shortest session botocore asks for (it refuses DurationSeconds under 900 before sending).
SESSION_SECONDS = 900


def assume(services: dict[str, Any], role: str, mode: str, **more: Any) -> dict[str, Any]:
    """The role's variables for assume_role of one of prepare's roles (static keys as the source)."""
    return {
        "seqr_s3_mode": mode,
        "seqr_s3_aws_credentials_mode": "assume_role",
        "seqr_s3_aws_role_arn": f"arn:aws:iam:::role/{services['roles'][role]['name']}",
        "seqr_s3_aws_role_duration_seconds": SESSION_SECONDS,
        **more,
    }


def key_id(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


def seqr_main_pid(seqr_host: testinfra.host.Host) -> str:
    return seqr_host.run("systemctl show --property MainPID --value seqr").stdout.strip()


def test_assume_role_reads_with_a_session_from_radosgws_sts(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host, services: dict[str, Any]
) -> None:
    # The rollout's health check (site.yml) reads through the assumed role too.
    ensure_role(**assume(services, "reads", "proxy"))
    read_bytes(analyst, scenario, seqr_host, "proxy")
    checked = check_passes(seqr_host, scenario)
    assert "credentials=assume-role" in checked, checked


def test_a_role_denied_the_bucket_gives_a_clean_403(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host, services: dict[str, Any]
) -> None:
    try:
        ensure_role(**assume(services, "denied", "proxy", seqr_s3_healthcheck_enabled=False))
        journal = read_expecting_error(analyst, scenario, seqr_host, 403, "S3 denied this server access")
        assert "AccessDenied" in journal, journal[-2000:]
        checked = seqr_host.run(f"{MANAGE} seqr_s3_check '{scenario.objects['bam']['uri']}'")
        # HEAD answers carry no error code: the check names the denial and the status.
        output = checked.stdout + checked.stderr
        assert checked.rc != 0 and "S3 denied this server access" in output and "(403)" in output, output
    finally:
        forget_applied()


def test_an_expired_role_session_is_renewed_without_restarting_seqr(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host, services: dict[str, Any]
) -> None:
    """Redirect mode shows the session in the URL: X-Amz-Credential names its key id. After the first
    session's end seqr (the same process) reads with a new one."""
    ensure_role(**assume(services, "reads", "redirect"))
    static_key = (scenario.state_dir / "s3_access_key").read_text().strip()
    pid = seqr_main_pid(seqr_host)
    first = read(analyst, scenario)
    expected = scenario.expected_bytes("bam", *RANGE)
    assert fetch_redirect(seqr_host, first) == expected
    first_key = key_id(first.headers["Location"])
    assert first_key != static_key, "the URL was signed with the static keys, not a role session"
    assert "X-Amz-Security-Token=" in first.headers["Location"]
    # Every session botocore had at the first read ends within SESSION_SECONDS of it.
    time.sleep(SESSION_SECONDS + 30)
    second = read(analyst, scenario)
    assert fetch_redirect(seqr_host, second) == expected
    assert key_id(second.headers["Location"]) not in (first_key, static_key)
    assert seqr_main_pid(seqr_host) == pid, "seqr was restarted"
