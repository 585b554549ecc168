"""The default scenario's verify helpers (hosts, fixtures, logins, re-running the role), for this scenario's
containers (molecule.yml sets SEQR_S3_SEQR_CONTAINER and SEQR_S3_S3_CONTAINER), where the S3 host's TLS
endpoints and services are (networks_data.py wrote them beside the CA), and how the tests read the BAM."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import testinfra

_DEFAULT_CONFTEST = Path(__file__).resolve().parents[2] / "default" / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("default_scenario_conftest", _DEFAULT_CONFTEST)
assert _spec and _spec.loader
default_scenario = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = default_scenario
_spec.loader.exec_module(default_scenario)

# The scenario's controller-side data (the OIDC issuer's tokens).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import networks_data  # noqa: E402

mint_token = networks_data.mint_token

# Fixtures pytest must find in this conftest, and the helpers the tests import from it.
Scenario = default_scenario.Scenario
MANAGE = default_scenario.MANAGE
REQUEST_TIMEOUT = default_scenario.REQUEST_TIMEOUT
scenario = default_scenario.scenario
seqr_host = default_scenario.seqr_host
s3_host = default_scenario.s3_host
analyst = default_scenario.analyst
ensure_role = default_scenario.ensure_role
apply_role = default_scenario.apply_role
forget_applied = default_scenario.forget_applied
container_address = default_scenario.container_address
S3_CONTAINER = default_scenario.S3_CONTAINER
needs_igv_page = default_scenario.needs_igv_page
igv_track_paths = default_scenario.igv_track_paths
allow_site_origin_in_bucket_cors = default_scenario.allow_site_origin_in_bucket_cors
open_igv_page = default_scenario.open_igv_page


@pytest.fixture(scope="session")
def tls_endpoints(scenario: Any) -> dict[str, Any]:
    """radosgw's HTTPS host:port and the broken fronts (name, port, fault), as prepare set them up."""
    return json.loads((scenario.state_dir / "tls" / "endpoints.json").read_text())


@pytest.fixture(scope="session")
def services(scenario: Any) -> dict[str, Any]:
    """radosgw's roles, the reads bucket, the payer and the egress proxy, as prepare set them up."""
    return json.loads((scenario.state_dir / "services.json").read_text())


# The range every test reads, and the role's copy of the private CA (seqr_s3_home/tls) boto3 and nginx get.
RANGE = (0, 99)
ROLE_CA_COPY = "/opt/seqr_s3/tls/s3_ca_bundle.pem"


def read(session: requests.Session, scenario: Scenario) -> requests.Response:
    """RANGE of the BAM through seqr's nginx, as igv.js asks for it (a redirect is not followed)."""
    return session.get(
        scenario.track_url(scenario.objects["bam"]["uri"]),
        headers={"Range": f"bytes={RANGE[0]}-{RANGE[1]}"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )


def curl_on_seqr_host(seqr_host: testinfra.host.Host, url: str, *options: str) -> Any:
    """Fetch ``url`` from the seqr host (which knows the S3 host's TLS names); the body comes back base64."""
    quoted = " ".join(f"'{option}'" for option in options)
    body = "/tmp/s3_networks_fetched"
    return seqr_host.run(
        f"rm -f {body} && curl --silent --show-error --fail {quoted} --output {body} '{url}'"
        f" && base64 -w0 {body}"
    )


def fetch_redirect(seqr_host: testinfra.host.Host, response: requests.Response) -> bytes:
    """What a browser trusting the private CA reads from a redirect answer's presigned URL."""
    assert response.status_code in (302, 307), response.text[:300]
    ranged = ("--header", f"Range: bytes={RANGE[0]}-{RANGE[1]}", "--cacert", ROLE_CA_COPY)
    fetched = curl_on_seqr_host(seqr_host, response.headers["Location"], *ranged)
    assert fetched.rc == 0, fetched.stderr
    return base64.b64decode(fetched.stdout)


def read_bytes(
    session: requests.Session, scenario: Scenario, seqr_host: testinfra.host.Host, mode: str
) -> requests.Response:
    """Read RANGE of the BAM in ``mode`` and assert its bytes: a 206 carrying them, or in redirect mode a
    presigned URL a browser trusting the private CA reads them from. Returns seqr's answer."""
    response = read(session, scenario)
    expected = scenario.expected_bytes("bam", *RANGE)
    if mode == "redirect":
        assert fetch_redirect(seqr_host, response) == expected
    else:
        assert response.status_code == 206, response.text[:300]
        assert response.content == expected
    return response


def check_passes(seqr_host: testinfra.host.Host, scenario: Scenario) -> str:
    """`manage.py seqr_s3_check` of the BAM, with seqr's own configuration and credentials, must pass; its
    output."""
    bam = scenario.objects["bam"]["uri"]
    checked = seqr_host.run(f"{MANAGE} seqr_s3_check '{bam}'")
    assert checked.rc == 0 and f"OK {bam}" in checked.stdout, checked.stdout + checked.stderr
    return checked.stdout


def journal_since(seqr_host: testinfra.host.Host, since: float) -> str:
    return seqr_host.run(f"journalctl --unit seqr --since @{int(since)} --no-pager --output cat").stdout


def read_expecting_error(
    session: requests.Session, scenario: Scenario, seqr_host: testinfra.host.Host, status: int, *messages: str
) -> str:
    """Read the BAM expecting a clean error: ``status`` with JSON naming each of ``messages``, no traceback in
    seqr's journal. Returns the journal lines of that read."""
    started = time.time() - 1
    response = read(session, scenario)
    assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert all(message in error for message in messages), error
    journal = journal_since(seqr_host, started)
    assert "Traceback" not in journal, journal[-2000:]
    return journal


def restart_seqr(seqr_host: testinfra.host.Host, session: requests.Session, scenario: Scenario) -> None:
    """A new seqr process (no role session cached: its next read asks the STS), answering again."""
    assert seqr_host.run("systemctl restart seqr").rc == 0
    default_scenario.wait_until(
        lambda: session.get(scenario.seqr_url + "/", timeout=REQUEST_TIMEOUT).status_code == 200,
        "seqr to answer after its restart",
    )
