"""igv.js in the controller's Chromium follows redirect mode's presigned URLs to radosgw over HTTPS
(issue 17).

A seqr user's browser fetches the reads from the store itself in redirect mode, so it must trust the store's
certificate as the seqr host does. The browser here trusts the private CA the way a hospital's managed
browsers trust its own: in its NSS database (a HOME made for the test), not by ignoring certificate errors.
With the CA it shows reads on both tracks; the same browser without it refuses the store, which shows the
trust is what makes the first test pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import (
    S3_CONTAINER,
    Scenario,
    allow_site_origin_in_bucket_cors,
    container_address,
    ensure_role,
    igv_track_paths,
    needs_igv_page,
    open_igv_page,
)
from igv_css_support import assert_reads_shown_through_seqr, browser_home_trusting
from scenario_data import SEQR_IGV_VERSION

pytestmark = needs_igv_page

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(scope="module")
def redirect_to_https_store(scenario: Scenario, tls_endpoints: dict[str, Any]) -> dict[str, Any]:
    """Redirect mode against radosgw's HTTPS endpoint, the reads bucket open to the site's origin under CORS,
    and how the controller's browser finds the store's name (only the hosts' /etc/hosts know it)."""
    ensure_role(seqr_s3_mode="redirect")
    allow_site_origin_in_bucket_cors(scenario)
    store_name = tls_endpoints["rgw"].split(":")[0]
    return {
        "origin": f"https://{tls_endpoints['rgw']}",
        "host_resolver_rules": f"MAP {store_name} {container_address(S3_CONTAINER)}",
    }


def test_igv_reads_from_radosgw_over_https_in_a_browser_trusting_the_private_ca(
    scenario: Scenario, redirect_to_https_store: dict[str, Any], tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "s3-networks-igv-redirect-https.png"
    report = open_igv_page(
        scenario,
        screenshot,
        browser_home=browser_home_trusting(scenario.state_dir / "tls" / "ca.pem", tmp_path),
        host_resolver_rules=redirect_to_https_store["host_resolver_rules"],
    )
    assert_reads_shown_through_seqr(
        report,
        mode="redirect",
        igv_version=SEQR_IGV_VERSION,
        site_origin=scenario.seqr_url,
        bucket_origin=redirect_to_https_store["origin"],
        track_paths=igv_track_paths(scenario),
    )
    assert screenshot.stat().st_size > 0


def test_a_browser_without_the_ca_refuses_the_store_and_shows_no_reads(
    scenario: Scenario, redirect_to_https_store: dict[str, Any], tmp_path: Path
) -> None:
    report = open_igv_page(
        scenario,
        None,
        browser_home=tmp_path,
        host_resolver_rules=redirect_to_https_store["host_resolver_rules"],
    )
    assert not report["ok"]
    assert not any(track["alignments"] for track in report["tracks"]), report["tracks"]
    store = redirect_to_https_store["origin"] + "/"
    refused = [error for error in report["pageErrors"] if error.startswith(f"request failed: {store}")]
    assert refused, report["pageErrors"]
    assert all("ERR_CERT_AUTHORITY_INVALID" in error for error in refused), refused
    assert not any(answer["url"].startswith(store) for answer in report["responses"]), "the store answered"
