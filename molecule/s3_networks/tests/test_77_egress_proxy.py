"""An egress proxy (issue 17) on the real hosts: tinyproxy on the S3 host, allowed to CONNECT only to
radosgw's HTTPS port. With seqr_s3_egress_proxy, proxy and redirect modes reach radosgw through it (its log
shows seqr's CONNECTs; TLS is still verified end to end); with the proxy down a read is a clean 502 naming the
proxy; accel (nginx cannot use a forward proxy) is refused before anything changes. tinyproxy logs each
CONNECT to the S3 host's journal.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import testinfra
from conftest import (
    Scenario,
    apply_role,
    check_passes,
    ensure_role,
    forget_applied,
    read_bytes,
    read_expecting_error,
)


def proxy_url(services: dict[str, Any]) -> str:
    return f"http://{services['egress_proxy']['name']}:{services['egress_proxy']['port']}"


def connects(s3_host: testinfra.host.Host, tls_endpoints: dict[str, Any]) -> int:
    """tinyproxy's CONNECT lines for radosgw's HTTPS endpoint so far (it logs to the journal)."""
    logged = s3_host.run("journalctl --identifier tinyproxy --no-pager --output cat").stdout
    return logged.count(f"CONNECT {tls_endpoints['rgw']}")


@pytest.mark.parametrize("mode", ["proxy", "redirect"])
def test_reads_reach_radosgw_through_the_proxy(
    mode: str,
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    s3_host: testinfra.host.Host,
    services: dict[str, Any],
    tls_endpoints: dict[str, Any],
) -> None:
    ensure_role(seqr_s3_mode=mode, seqr_s3_egress_proxy=proxy_url(services))
    before = connects(s3_host, tls_endpoints)
    # seqr_s3_check asks S3 with seqr's own client (HEAD and a ranged GET): through the proxy in both modes;
    # in redirect mode seqr only signs, and the browser fetches from the store itself.
    check_passes(seqr_host, scenario)
    read_bytes(analyst, scenario, seqr_host, mode)
    assert connects(s3_host, tls_endpoints) > before, "no CONNECT through the proxy"


def test_with_the_proxy_down_a_read_is_a_clean_502(
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    s3_host: testinfra.host.Host,
    services: dict[str, Any],
) -> None:
    ensure_role(seqr_s3_mode="proxy", seqr_s3_egress_proxy=proxy_url(services))
    s3_host.run("systemctl stop tinyproxy")
    try:
        journal = read_expecting_error(analyst, scenario, seqr_host, 502, "through the egress proxy")
        assert "egress proxy" in journal, journal[-2000:]
    finally:
        assert s3_host.run("systemctl start tinyproxy").rc == 0


def test_accel_with_a_proxy_is_refused_before_anything_changes(
    seqr_host: testinfra.host.Host, services: dict[str, Any]
) -> None:
    before = seqr_host.run("sha256sum /etc/nginx/sites-enabled/* /home/seqr/.aws/config").stdout
    refused = apply_role(seqr_s3_mode="accel", seqr_s3_egress_proxy=proxy_url(services))
    if refused.returncode == 0:
        forget_applied()
    assert refused.returncode != 0
    said = " ".join((refused.stdout + refused.stderr).split())  # Ansible wraps the message
    assert "in accel mode nginx fetches the reads from S3 itself" in said, said[-3000:]
    assert "Choose seqr_s3_mode proxy" in said
    assert seqr_host.run("sha256sum /etc/nginx/sites-enabled/* /home/seqr/.aws/config").stdout == before
