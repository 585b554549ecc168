"""An egress proxy (issue 17) on the real hosts: tinyproxy on the S3 host, allowed to CONNECT only to
radosgw's HTTPS port. With seqr_s3_egress_proxy, proxy and redirect modes reach radosgw through it (its log
shows seqr's CONNECTs; TLS is still verified end to end); with the proxy down a read is a clean 502 naming the
proxy; accel (nginx cannot use a forward proxy) is refused before anything changes. With assume_role, the
STS call goes through the proxy too: with the seqr host's own route to radosgw cut, a fresh seqr process still
gets its role session and reads. tinyproxy logs each CONNECT to the S3 host's journal.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
import testinfra
from conftest import (
    ROLE_CA_COPY,
    Scenario,
    apply_role,
    check_passes,
    curl_on_seqr_host,
    ensure_role,
    forget_applied,
    read_bytes,
    read_expecting_error,
    restart_seqr,
)
from test_75_sts import assume

# An address that routes nowhere (TEST-NET-1): the seqr host's name for radosgw, while its route is cut.
NOWHERE = "192.0.2.1"


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


def test_assume_role_gets_its_session_through_the_proxy_when_only_the_proxy_reaches_radosgw(
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    s3_host: testinfra.host.Host,
    services: dict[str, Any],
    tls_endpoints: dict[str, Any],
) -> None:
    """The seqr host's name for radosgw points nowhere; tinyproxy resolves the name on its own host. A
    restarted seqr (no role session yet) and `manage.py seqr_s3_check` (a new process) ask radosgw's STS for
    a session and read, which only a path through the proxy can do."""
    proxy = proxy_url(services)
    ensure_role(**assume(services, "reads", "proxy", seqr_s3_egress_proxy=proxy))
    rgw_name = tls_endpoints["rgw"].split(":")[0]
    saved = "/tmp/s3_networks_hosts_saved"
    hosts = seqr_host.file("/etc/hosts").content_string
    # Debian's host.conf says `multi on`: every line naming radosgw counts, so the name leaves prepare's line.
    cut_hosts = (
        "".join(
            " ".join(word for word in line.split(" ") if word != rgw_name) + "\n"
            for line in hosts.splitlines()
        )
        + f"{NOWHERE} {rgw_name}\n"
    )
    assert seqr_host.run(f"cp /etc/hosts {saved}").rc == 0
    try:
        # /etc/hosts is podman's bind mount: rewritten in place.
        encoded = base64.b64encode(cut_hosts.encode()).decode()
        cut = seqr_host.run(f"echo {encoded} | base64 -d > /etc/hosts")
        assert cut.rc == 0, cut.stderr
        url = f"https://{tls_endpoints['rgw']}/"
        assert curl_on_seqr_host(seqr_host, url, "--cacert", ROLE_CA_COPY, "--max-time", "5").rc != 0
        assert curl_on_seqr_host(seqr_host, url, "--cacert", ROLE_CA_COPY, "--proxy", proxy).rc == 0
        before = connects(s3_host, tls_endpoints)
        restart_seqr(seqr_host, analyst, scenario)
        read_bytes(analyst, scenario, seqr_host, "proxy")
        checked = check_passes(seqr_host, scenario)
        assert "credentials=assume-role" in checked, checked
        assert connects(s3_host, tls_endpoints) > before
    finally:
        assert seqr_host.run(f"cat {saved} > /etc/hosts").rc == 0
