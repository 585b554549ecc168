"""igv.js in Debian's headless Chromium against the provisioned seqr host: reads from Ceph, in every mode.

This is how a seqr user meets the feature. The controller's Chromium opens the stand-in's IGV page on the
seqr container (logged in like seqr's UI), under the Content-Security-Policy the role wrote into settings.py;
igv.js (the npm build seqr's UI imports, which prepare put into the checkout's static files as collectstatic
would) fetches the BAM and CRAM tracks and their indexes through seqr's IGV API, which serves them from Ceph
via nginx. The test asserts on igv.js's own state (reads loaded per track), on the answers it got, and on the
CSP violations the browser reported; with one style hash left out of the policy a violation must be reported,
so the zero-violation check can fail. Every version in the role's table is covered by tests/igv on the
loopback site; here seqr's pin runs in each mode and the table's newest release runs once with its own hashes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import testinfra
from conftest import (
    SEQR_CONTAINER,
    Scenario,
    allow_site_origin_in_bucket_cors,
    ensure_role,
    igv_track_paths,
    needs_igv_page,
    open_igv_page,
)

# tests/igv's helpers (shared with the loopback browser tests), on the path through conftest.
from igv_css_support import (
    IGV_ESM_BUILD,
    assert_reads_shown_through_seqr,
    install_igv,
    load_hash_table,
    version_key,
)
from scenario_data import SEQR_IGV_VERSION, igv_build

REPO_ROOT = Path(__file__).resolve().parents[3]

pytestmark = needs_igv_page

ARTIFACTS = REPO_ROOT / "test-artifacts"
# Where prepare put seqr's igv.js, as collectstatic would (under the role's seqr_s3_nginx_static_root).
STATIC_IGV_BUILD = f"/seqr/static/igv/dist/{IGV_ESM_BUILD.name}"
# proxy first: the fault tests before this file leave the host in proxy mode (one role run fewer).
MODES = ["proxy", "redirect", "accel"]
TABLE = load_hash_table()
NEWEST_IGV_VERSION = max(TABLE, key=version_key)


@pytest.fixture(scope="module")
def serve_igv(
    tmp_path_factory: pytest.TempPathFactory, scenario: Scenario, seqr_host: testinfra.host.Host
) -> Iterator[Callable[[str], None]]:
    """``serve(version)`` makes the page import igv@version: prepare put seqr's pin there as part of the host;
    another version replaces it until the module ends, then prepare's build goes back (the demo test after
    this file, and the removal's checks, see the host as prepared)."""
    builds = {SEQR_IGV_VERSION: igv_build(scenario.state_dir)}
    served = [SEQR_IGV_VERSION]

    def serve(version: str) -> None:
        if version == served[0]:
            return
        if version not in builds:
            builds[version] = install_igv(version, tmp_path_factory.mktemp(f"igv-{version}")) / IGV_ESM_BUILD
        subprocess.run(
            ["podman", "cp", str(builds[version]), f"{SEQR_CONTAINER}:{STATIC_IGV_BUILD}"],
            check=True,
            capture_output=True,
        )
        assert seqr_host.run(f"chown root:root {STATIC_IGV_BUILD} && chmod 0644 {STATIC_IGV_BUILD}").rc == 0
        served[0] = version

    yield serve
    serve(SEQR_IGV_VERSION)


@pytest.fixture(scope="module")
def bucket_allows_the_site(scenario: Scenario) -> None:
    """igv.js follows redirect mode's 302 to Ceph under CORS."""
    allow_site_origin_in_bucket_cors(scenario)


@pytest.mark.parametrize("mode", MODES)
def test_igv_shows_reads_from_ceph_in_each_mode(
    mode: str, scenario: Scenario, serve_igv: Callable[[str], None], bucket_allows_the_site: None
) -> None:
    """seqr's igv.js shows reads on both tracks, fetched through seqr, with no CSP violation."""
    ensure_role(seqr_s3_mode=mode)
    serve_igv(SEQR_IGV_VERSION)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"molecule-igv-{mode}-{SEQR_IGV_VERSION}.png"
    report = open_igv_page(scenario, screenshot)
    assert_reads_shown_through_seqr(
        report,
        mode=mode,
        igv_version=SEQR_IGV_VERSION,
        site_origin=scenario.seqr_url,
        bucket_origin=scenario.s3_endpoint,
        track_paths=igv_track_paths(scenario),
    )
    assert screenshot.stat().st_size > 0


def test_newest_igv_in_the_table_shows_reads_under_its_hashes(
    scenario: Scenario, serve_igv: Callable[[str], None]
) -> None:
    """An operator on a newer igv.js sets seqr_s3_igv_version: the role's hashes for it let it style."""
    ensure_role(seqr_s3_mode="accel", seqr_s3_igv_version=NEWEST_IGV_VERSION)
    serve_igv(NEWEST_IGV_VERSION)
    report = open_igv_page(scenario, ARTIFACTS / f"molecule-igv-accel-{NEWEST_IGV_VERSION}.png")
    assert_reads_shown_through_seqr(
        report,
        mode="accel",
        igv_version=NEWEST_IGV_VERSION,
        site_origin=scenario.seqr_url,
        bucket_origin=scenario.s3_endpoint,
        track_paths=igv_track_paths(scenario),
    )


def test_a_style_hash_left_out_is_reported_as_a_violation(
    scenario: Scenario, serve_igv: Callable[[str], None]
) -> None:
    """The same page with one of the newest version's hashes missing from the policy: the browser objects."""
    dropped = TABLE[NEWEST_IGV_VERSION][0]
    kept = [source for source in TABLE[NEWEST_IGV_VERSION] if source != dropped]
    ensure_role(seqr_s3_mode="accel", seqr_s3_igv_version=NEWEST_IGV_VERSION, seqr_s3_igv_css_hashes=kept)
    serve_igv(NEWEST_IGV_VERSION)
    report = open_igv_page(scenario, None)
    assert report["violations"], "no CSP violation although a style hash igv.js needs is missing"
    assert {v["effectiveDirective"] for v in report["violations"]} <= {"style-src-elem", "style-src"}
