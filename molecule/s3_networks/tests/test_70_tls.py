"""radosgw over HTTPS with a private CA (issue 17), on the real hosts: every mode reads over it with only the
CA the role was given (seqr_s3_s3_ca_bundle), and each broken certificate (another host's name, expired, an
unknown CA) gets a clean error naming TLS, with no request reaching the store behind it.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import testinfra
from conftest import (
    MANAGE,
    RANGE,
    ROLE_CA_COPY,
    Scenario,
    check_passes,
    curl_on_seqr_host,
    ensure_role,
    forget_applied,
    read_bytes,
    read_expecting_error,
)

TLS_MESSAGE = "TLS verification of the S3 endpoint failed"
# What Python's ssl (seqr, proxy mode) says about each broken front's certificate.
REASONS = {
    "another_name": "doesn't match",
    "expired": "certificate has expired",
    "unknown_ca": "unable to get local issuer certificate",
}


def test_radosgw_certificate_is_trusted_only_through_the_private_ca(
    seqr_host: testinfra.host.Host, tls_endpoints: dict[str, Any]
) -> None:
    url = f"https://{tls_endpoints['rgw']}/"
    without = curl_on_seqr_host(seqr_host, url)
    assert without.rc != 0 and "certificate" in without.stderr, "the test CA must be in no system bundle"
    with_ca = curl_on_seqr_host(seqr_host, url, "--cacert", ROLE_CA_COPY)
    assert with_ca.rc == 0, with_ca.stderr


@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_every_mode_reads_from_radosgw_over_https(
    mode: str,
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    tls_endpoints: dict[str, Any],
) -> None:
    ensure_role(seqr_s3_mode=mode)
    response = read_bytes(analyst, scenario, seqr_host, mode)
    if mode == "redirect":
        location = response.headers["Location"]
        assert location.startswith(f"https://{tls_endpoints['rgw']}/"), location
        # The browser fetches from the store itself: with the hospital's CA it reads (above), without it it
        # refuses.
        ranged = ("--header", f"Range: bytes={RANGE[0]}-{RANGE[1]}")
        assert curl_on_seqr_host(seqr_host, location, *ranged).rc != 0
    check_passes(seqr_host, scenario)


def _front_requests(s3_host: testinfra.host.Host, fault: str) -> int:
    logged = s3_host.run(f"cat /var/log/nginx/s3-front-{fault}.log")
    return len(logged.stdout.splitlines())


@pytest.mark.parametrize("fault", sorted(REASONS))
def test_bad_certificates_give_a_clean_error_naming_tls(
    fault: str,
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    s3_host: testinfra.host.Host,
    tls_endpoints: dict[str, Any],
) -> None:
    front = next(front for front in tls_endpoints["fronts"] if front["fault"] == fault)
    endpoint = f"https://{front['name']}:{front['port']}"
    bam = scenario.objects["bam"]
    try:
        # proxy: boto3 verifies with the AWS profile's ca_bundle.
        ensure_role(seqr_s3_mode="proxy", seqr_s3_endpoint_url=endpoint, seqr_s3_healthcheck_enabled=False)
        requests_before = _front_requests(s3_host, fault)
        journal = read_expecting_error(analyst, scenario, seqr_host, 502, TLS_MESSAGE, REASONS[fault])
        assert TLS_MESSAGE in journal and REASONS[fault] in journal, journal[-2000:]
        # seqr_s3_check asks through boto3 in every mode: the operator's way to learn why accel reads fail.
        checked = seqr_host.run(f"{MANAGE} seqr_s3_check '{bam['uri']}'")
        output = checked.stdout + checked.stderr
        assert checked.rc != 0 and TLS_MESSAGE in output and REASONS[fault] in output, output
        assert _front_requests(s3_host, fault) == requests_before, "boto3 sent a request unverified"

        # accel: nginx verifies with the same CA and gives no byte of an unverified answer. Its error lines
        # about a fetch carry the presigned URL, so the site writes none: it asks seqr again, whose own
        # request names TLS in the answer and the journal.
        ensure_role(seqr_s3_mode="accel", seqr_s3_endpoint_url=endpoint, seqr_s3_healthcheck_enabled=False)
        errors_before = len(seqr_host.run("cat /var/log/nginx/error.log").stdout)
        journal = read_expecting_error(analyst, scenario, seqr_host, 502, TLS_MESSAGE, REASONS[fault])
        assert TLS_MESSAGE in journal and REASONS[fault] in journal, journal[-2000:]
        assert "X-Amz-" not in journal
        nginx_errors = seqr_host.run("cat /var/log/nginx/error.log").stdout[errors_before:]
        assert "X-Amz-" not in nginx_errors, "nginx's error line must not carry the signed URL"
        assert _front_requests(s3_host, fault) == requests_before, "nginx sent a request unverified"
    finally:
        forget_applied()
        ensure_role(seqr_s3_mode="accel")
