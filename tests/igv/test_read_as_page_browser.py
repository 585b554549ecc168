"""A read stored as an HTML page never runs its script on seqr's origin: checked in headless Chromium.

The session bucket holds ``reads/hostile_page.bam`` (tests/fixtures/reads.py: HOSTILE_*), registered as a
sample of project 1 but stored with Content-Type text/html, Content-Disposition inline and a <script> that
sets document.title and requests a probe path. A logged-in user follows a link to its IGV track URL through
the role's nginx in each serving mode. The same HTML answered on seqr's origin by the browser itself is the
control: there the script runs (title changes, probe requested), so the check can fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from fixtures.reads import HOSTILE_BODY, HOSTILE_PROBE
from igv_css_support import REPO_ROOT, run_browser_driver

PAGE_DRIVER = REPO_ROOT / "scripts" / "igv_css_hashes" / "open_as_page.mjs"
PROJECT = "R0001_project_1"
CONTROL_PATH = "/seqr-s3-control-page"
SCRIPT_TITLE = "script ran"


@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_a_read_stored_as_html_runs_no_script(
    mode: str,
    standin_factory: Callable[..., Any],
    nginx_factory: Callable[..., Any],
    seeded_session: Callable[..., Any],
    s3_bucket: Any,
) -> None:
    nginx = nginx_factory(standin_factory(mode))
    session = seeded_session(nginx, "collaborator")
    read_url = f"{nginx.base_url}/api/project/{PROJECT}/igv_track/" + quote(
        s3_bucket["hostile_page"].s3_path, safe=""
    )
    pages = [{"url": read_url}, {"url": nginx.base_url + CONTROL_PATH, "html": HOSTILE_BODY.decode()}]
    report = run_browser_driver(PAGE_DRIVER, {"pages": pages}, dict(session.cookies.items()))
    read, control = report["pages"]
    probes = [url for url in report["requests"] if HOSTILE_PROBE in url]

    # The control: the same HTML as a page of seqr's origin runs its script, and the driver sees it.
    assert control["title"] == SCRIPT_TITLE, control
    assert probes == [f"{nginx.base_url}{HOSTILE_PROBE}?from={nginx.base_url.removeprefix('http://')}"], (
        probes
    )

    # The read: saved as a download (attachment), never a page whose script ran.
    assert read["title"] != SCRIPT_TITLE, read
    assert read["download"] or read["contentType"] == "application/octet-stream", read
    # Only the control's probe reached nginx.
    access_log = (nginx.prefix / "access.log").read_text(errors="replace")
    assert access_log.count(HOSTILE_PROBE) == 1, access_log
