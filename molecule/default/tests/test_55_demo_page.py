"""What `make demo` promises, checked: the page demo_info.py prints works for a person with the printed login.

demo_info.py runs as `make demo` runs it; the test takes the page URL and the login from its printed text
(demo_access gives the values the text is made of, so the two cannot drift), then Debian's headless Chromium
opens that URL with no session, is sent to the login page, fills its form with the printed email and password
and comes back to the page, where igv.js (seqr's pin, which prepare put into the checkout's static files)
must draw reads on the BAM and the CRAM track, read from Ceph through seqr, with no CSP violation on either
page. The role is as converge left it (accel mode), which is what `make demo` shows.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import demo_info
import pytest
from conftest import Scenario, ensure_role, igv_track_paths, needs_igv_page
from scenario_data import SEQR_IGV_VERSION

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT / "tests" / "igv"))
from igv_css_support import assert_reads_shown_through_seqr, open_igv_reads_page  # noqa: E402

pytestmark = needs_igv_page
ARTIFACTS = REPO_ROOT / "test-artifacts"


def test_the_printed_page_shows_reads_after_the_printed_login(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_role(seqr_s3_mode="accel")  # converge's state: what `make demo` leaves
    assert demo_info.main() == 0
    printed = capsys.readouterr().out
    access = demo_info.demo_access(scenario.state_dir)
    assert f"\n  page:   {access.page_url}\n" in printed
    assert f"\n  login:  {access.email} / {access.password}\n" in printed
    for name, kind, uri in access.tracks:
        assert f"{name}  {kind:<4}  {uri}" in printed
    assert access.base_url == scenario.seqr_url

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "molecule-demo-page.png"
    report = open_igv_reads_page(access.page_url, {}, screenshot, login=(access.email, access.password))
    assert urlsplit(report["login"]["url"]).path == "/login"
    assert report["login"]["status"] == 200
    assert report["url"] == access.page_url
    assert_reads_shown_through_seqr(
        report,
        mode="accel",
        igv_version=SEQR_IGV_VERSION,
        site_origin=scenario.seqr_url,
        bucket_origin=scenario.s3_endpoint,
        track_paths=igv_track_paths(scenario),
    )
    shown = {(track["name"], track["format"]) for track in report["tracks"]}
    assert shown == {(name, kind.lower()) for name, kind, _uri in access.tracks}
    assert screenshot.stat().st_size > 0
