"""Faults on real parts: the S3 store goes away and comes back, the keys are wrong, the nginx site is broken.

Each test restores what it broke (radosgw running, the right keys). Role runs are few and ordered (accel,
then proxy) because each one takes minutes through podman here.
"""

from __future__ import annotations

import re

import pytest
import requests
import testinfra
from conftest import (
    REQUEST_TIMEOUT,
    S3_CONTAINER,
    Scenario,
    apply_role,
    ensure_role,
    forget_applied,
    remember_applied,
    wait_until,
)

RGW_UNIT = f"ceph-radosgw@rgw.{S3_CONTAINER}"  # prepare names the gateway after the host
SITE = "/etc/nginx/sites-available/seqr"


def read_first_bytes(session: requests.Session, scenario: Scenario) -> requests.Response:
    return session.get(
        scenario.track_url(scenario.objects["bam"]["uri"]),
        headers={"Range": "bytes=0-99"},
        timeout=REQUEST_TIMEOUT,
    )


def assert_serves(session: requests.Session, scenario: Scenario) -> None:
    response = read_first_bytes(session, scenario)
    assert response.status_code == 206, response.text[:300]
    assert response.content == scenario.expected_bytes("bam", 0, 99)


def assert_clean_error(response: requests.Response, statuses: tuple[int, ...]) -> None:
    """An error status, no traceback or Django debug page, nothing of the object."""
    assert response.status_code in statuses, (
        f"expected {statuses}, got {response.status_code}: {response.text[:300]}"
    )
    assert "Traceback" not in response.text
    assert "<title>" not in response.text or "Error" not in response.text.split("<title>")[1][:40]


def test_wrong_credentials_give_a_clean_403(scenario: Scenario, analyst: requests.Session) -> None:
    """Keys the store rejects (a rotated secret): site.yml's health check stops the rollout, and reads get a
    clean 403 with a short message (accel mode: nginx asks S3 with the URL seqr signed)."""
    wrong = "W" * 40  # well-formed, but not the radosgw user's secret
    try:
        forget_applied()
        result = apply_role(seqr_s3_mode="accel", seqr_s3_aws_secret_access_key=wrong)
        assert result.returncode != 0, "site.yml's health check let a host with rejected keys pass"
        response = read_first_bytes(analyst, scenario)
        assert_clean_error(response, (403,))
        assert wrong not in response.text and scenario.secret_key() not in response.text
    finally:
        ensure_role(seqr_s3_mode="accel")
    assert_serves(analyst, scenario)


def test_broken_nginx_value_fails_the_role_and_keeps_the_old_site(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host
) -> None:
    ensure_role(seqr_s3_mode="accel")
    before = seqr_host.file(SITE).sha256sum
    files_before = nginx_and_role_files(seqr_host)
    # Not a time nginx understands: the role's nginx -t must catch it before the site goes live.
    result = apply_role(seqr_s3_mode="accel", seqr_s3_nginx_proxy_read_timeout="ten minutes")
    assert result.returncode != 0, "the role accepted an nginx site that nginx cannot load"
    assert "proxy_read_timeout" in result.stdout + result.stderr, "the failure does not name the directive"
    assert seqr_host.file(SITE).sha256sum == before
    assert nginx_and_role_files(seqr_host) == files_before, "the failed run left files behind"
    assert seqr_host.run("nginx -t").rc == 0
    assert_serves(analyst, scenario)
    remember_applied(seqr_s3_mode="accel")  # the failed run stopped before changing the site


def test_site_failing_only_with_the_whole_config_is_put_back(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host
) -> None:
    """The new site passes nginx -t on its own but not next to another site (two default servers on port 80):
    the role puts the previous site back byte for byte, leaves no copy behind and does not reload nginx."""
    ensure_role(seqr_s3_mode="accel")
    before = seqr_host.file(SITE).sha256sum
    files_before = nginx_and_role_files(seqr_host)
    other_site = "/etc/nginx/sites-enabled/zz-other-default"
    seqr_host.run_expect(
        [0], f"printf 'server {{ listen 80 default_server; return 404; }}\\n' > {other_site}"
    )
    try:
        assert seqr_host.run("nginx -t").rc == 0, "the other site alone must be valid"
        result = apply_role(seqr_s3_mode="accel", seqr_s3_nginx_default_server=True)
        assert result.returncode != 0, "the role put live a site that breaks nginx's whole configuration"
        # Failures go to stderr (molecule's display_failed_stderr); the yaml callback colours and may wrap
        # long lines: compare letters only.
        output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
        letters = re.sub(r"[^a-z]", "", output.lower())
        assert "aduplicatedefaultserver" in letters, "the role's failure does not carry nginx's own words"
        assert seqr_host.file(SITE).sha256sum == before
        # Had nginx been reloaded, the other site (default server, 404) would now answer requests by address.
        assert_serves(analyst, scenario)
    finally:
        seqr_host.run(f"rm -f {other_site}")
    assert nginx_and_role_files(seqr_host) == files_before, "the failed run left files behind"
    assert seqr_host.run("nginx -t").rc == 0
    assert_serves(analyst, scenario)
    remember_applied(seqr_s3_mode="accel")  # the site was put back as the accel converge left it


def nginx_and_role_files(seqr_host: testinfra.host.Host) -> str:
    """Every file and link under /etc/nginx and the role's backup folder, with its checksum."""
    listing = seqr_host.run(
        r"find /etc/nginx /opt/seqr_s3/backup -xdev \( -type f -o -type l \) -print0 | sort -z"
        " | xargs -0 sha256sum"
    )
    assert listing.rc == 0, listing.stderr
    return listing.stdout


@pytest.mark.parametrize("mode", ["accel", "proxy"])
def test_store_down_gives_502_or_504_and_seqr_stays_up(
    mode: str,
    scenario: Scenario,
    analyst: requests.Session,
    s3_host: testinfra.host.Host,
    seqr_host: testinfra.host.Host,
) -> None:
    """radosgw stopped: nginx (accel) or boto3 (proxy) cannot connect; 502/504, and seqr keeps running. A 502
    names the cause in either mode (accel: nginx hands its failed fetch back to seqr, which asks S3)."""
    ensure_role(seqr_s3_mode=mode)
    assert_serves(analyst, scenario)
    s3_host.run_expect([0], f"systemctl stop {RGW_UNIT}")
    try:
        response = read_first_bytes(analyst, scenario)
        assert_clean_error(response, (502, 504))
        if response.status_code == 502:
            assert "cannot reach the S3 endpoint" in response.json()["error"], response.text[:300]
        page = requests.get(scenario.seqr_url + "/", timeout=REQUEST_TIMEOUT)
        assert page.status_code == 200, "seqr itself must keep answering while S3 is down"
        # nginx's error lines name the upstream URL: the presigned URL's signature must not be among them.
        logged = seqr_host.run("cat /var/log/nginx/error.log")
        assert "X-Amz-" not in logged.stdout, logged.stdout[-2000:]
    finally:
        s3_host.run_expect([0], f"systemctl start {RGW_UNIT}")
    wait_until(
        lambda: read_first_bytes(analyst, scenario).status_code == 206, "reads to work again after restart"
    )
    assert_serves(analyst, scenario)
