"""Helpers for the igv.js browser tests: the known answer, the role's table, the tool, igv.js, the driver.

A uniquely named module (not conftest) so test files can import it without clashing with other conftest.py;
molecule/default's browser test imports it too: the loopback site and the provisioned host are driven alike.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WRAPPER = REPO_ROOT / "scripts" / "igv-css-hashes"
READS_DRIVER = REPO_ROOT / "scripts" / "igv_css_hashes" / "igv_reads_page.mjs"
TABLE_PATH = REPO_ROOT / "roles" / "seqr_s3" / "vars" / "igv_css_hashes.yml"
TABLE_VARIABLE = "seqr_s3_igv_css_hash_table"

# seqr's IGV_CSS_HASHES for igv.js 2.10.5, copied from broadinstitute/seqr settings.py: the known answer the
# tool must reproduce exactly (same sources, same order of insertion).
SEQR_IGV_2_10_5_CSS_HASHES = [
    "'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='",
    "'sha256-s8l0U2/BsebhfOvm08Z+4w1MnftmnPeoOMbSi+f5hCI='",
    "'sha256-T9widob1zmlNnk3NzLRUfXFToG7AkPTuLDXaKU2tc6c='",
    "'sha256-ITHmamcImsZ/Je1xrdtDLZVvRSpj1Zokb6uHXORB824='",
]

# Failure guards (healthy runs take seconds), not assertions on timing: one tool run (npm install + several
# page loads), one npm install of igv.js, one page opened by the reads driver.
TOOL_TIMEOUT_SECONDS = 900
NPM_TIMEOUT_SECONDS = 300
DRIVER_TIMEOUT_SECONDS = 240
NPM_INSTALL = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"]
# The build seqr's UI imports (igv/dist/igv.esm.min), as it sits in an npm install of igv.
IGV_ESM_BUILD = Path("dist") / "igv.esm.min.js"


def load_hash_table() -> dict[str, list[str]]:
    """The role's version table as plain Python (keys are version strings)."""
    loaded = yaml.safe_load(TABLE_PATH.read_text(encoding="utf-8"))
    return {str(version): list(sources) for version, sources in loaded[TABLE_VARIABLE].items()}


def style_policy(sources: list[str]) -> str:
    """The CSP header the browser tests load igv under: only our page and the listed hashes may style."""
    return " ".join(["style-src", "'self'", *sources])


def run_wrapper(*args: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/igv-css-hashes as an operator would, capturing both streams.

    On timeout it is stopped with SIGTERM (subprocess.run would SIGKILL it), so it can close Chromium.
    """
    command = [str(WRAPPER), *args]
    wrapper = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    try:
        stdout, stderr = wrapper.communicate(timeout=TOOL_TIMEOUT_SECONDS)
    except BaseException:
        wrapper.terminate()
        try:
            wrapper.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            wrapper.kill()
            wrapper.communicate()
        raise
    return subprocess.CompletedProcess(command, wrapper.returncode, stdout, stderr)


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for igv.js release numbers such as 2.10.5."""
    return tuple(int(part) for part in version.split("."))


def install_igv(version: str, work: Path) -> Path:
    """Install igv@version from npm into the empty folder ``work``; returns the package folder."""
    (work / "package.json").write_text('{"private": true}\n')
    command = [*NPM_INSTALL, f"igv@{version}"]
    subprocess.run(command, cwd=work, check=True, capture_output=True, timeout=NPM_TIMEOUT_SECONDS)
    package = work / "node_modules" / "igv"
    installed = json.loads((package / "package.json").read_text())["version"]
    assert installed == version, f"npm installed igv {installed}, not {version}"
    return package


def igv_reads_page_url(origin: str, project: str, individuals: tuple[str, ...], locus: str) -> str:
    """The stand-in's IGV page for some of a project's individuals, opened at ``locus``."""
    query = "&".join([f"locus={quote(locus)}", *(f"individual={guid}" for guid in individuals)])
    return f"{origin}/project/{project}/igv_reads?{query}"


def open_igv_reads_page(
    url: str,
    cookies: dict[str, str],
    screenshot: Path | None,
    login: tuple[str, str] | None = None,
    *,
    browser_home: Path | None = None,
    host_resolver_rules: str | None = None,
) -> dict[str, Any]:
    """Open the stand-in's IGV page in headless Chromium (scripts/igv_css_hashes/igv_reads_page.mjs).

    With ``login`` (email, password) and no session cookie the browser meets the login page first and fills
    its form, as a person would. ``browser_home`` (see :func:`browser_home_trusting`) makes the browser trust
    a private CA; ``host_resolver_rules`` maps names only the test hosts know. Returns the driver's JSON
    report: where the page ended and its status, igv.js version and per-track reads, every response igv.js
    got, failed requests among the page errors, off-origin requests and the CSP violations the browser
    reported (the login page's too).
    """
    request: dict[str, Any] = {"url": url, "screenshot": str(screenshot) if screenshot else None}
    if login is not None:
        request["login"] = {"email": login[0], "password": login[1]}
    if browser_home is not None:
        request["home"] = str(browser_home)
    if host_resolver_rules is not None:
        request["hostResolverRules"] = host_resolver_rules
    return run_browser_driver(READS_DRIVER, request, cookies)


def browser_home_trusting(ca_certificate: Path, home: Path) -> Path:
    """A HOME for Chromium whose NSS database (.pki/nssdb, where Chromium on Linux keeps the user's trust)
    trusts ``ca_certificate`` to identify web sites, as a hospital's managed browsers trust its private CA.
    Uses certutil from Debian's libnss3-tools."""
    nssdb = f"sql:{home / '.pki' / 'nssdb'}"
    (home / ".pki" / "nssdb").mkdir(parents=True, exist_ok=True)
    for command in (
        ["certutil", "-d", nssdb, "-N", "--empty-password"],
        ["certutil", "-d", nssdb, "-A", "-t", "C,,", "-n", "seqr-s3 test CA", "-i", str(ca_certificate)],
    ):
        subprocess.run(command, check=True, capture_output=True, text=True)
    return home


def run_browser_driver(driver: Path, request: dict[str, Any], cookies: dict[str, str]) -> dict[str, Any]:
    """Run one of the Node browser drivers with its JSON request (cookies added) on stdin; its JSON report."""
    request = {**request, "cookies": [{"name": name, "value": value} for name, value in cookies.items()]}
    completed = subprocess.run(
        ["node", str(driver)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, f"the browser driver failed:\n{completed.stderr}"
    return json.loads(completed.stdout)


def assert_reads_shown_through_seqr(
    report: dict[str, Any],
    *,
    mode: str,
    igv_version: str,
    site_origin: str,
    bucket_origin: str,
    track_paths: dict[str, str],
) -> None:
    """igv.js ran, loaded reads on both tracks via seqr's IGV API, and the browser blocked nothing.

    ``track_paths`` maps "bam", "bam index", "cram", "cram index" to the URL paths igv.js must request from
    seqr. In redirect mode seqr answers 302 and the bucket answers the range (CORS lets igv.js read it).
    """
    assert report["pageStatus"] == 200
    assert report["ok"], f"{report['error']}\npage errors: {report['pageErrors']}"
    assert report["igvVersion"] == igv_version
    loaded = {track["format"]: track["alignments"] for track in report["tracks"]}
    assert set(loaded) == {"bam", "cram"}, report["tracks"]
    assert all(count > 0 for count in loaded.values()), report["tracks"]
    assert report["violations"] == []

    responses = report["responses"]
    site_host = urlsplit(site_origin).netloc
    bucket_host = urlsplit(bucket_origin).netloc
    for label, path in track_paths.items():
        answers = [
            r for r in responses if urlsplit(r["url"]).netloc == site_host and urlsplit(r["url"]).path == path
        ]
        assert answers, f"igv.js never asked seqr for the {label}"
        if mode == "redirect":
            assert all(r["status"] == 302 for r in answers), answers
            followed = [
                r for r in responses if r["redirectedFrom"] and urlsplit(r["redirectedFrom"]).path == path
            ]
            assert len(followed) == len(answers), f"not every redirect for the {label} was followed"
            assert all(urlsplit(r["url"]).netloc == bucket_host for r in followed)
            assert all(r["status"] in (200, 206) for r in followed), followed
        else:
            assert all(r["status"] in (200, 206) for r in answers), answers
    for name in ("bam", "cram"):
        path = track_paths[name]
        # A ranged 206 for the data file, answered at seqr's URL or at the S3 URL seqr redirected to.
        ranged = [
            r
            for r in responses
            if r["status"] == 206
            and r["range"]
            and (r["contentRange"] or "").startswith("bytes ")
            and path in (urlsplit(r["url"]).path, urlsplit(r["redirectedFrom"] or "").path)
        ]
        assert ranged, f"no ranged 206 answer for the {name} data: {[r for r in responses if r['range']]}"
    # igv ran offline: nothing but the site itself (and the bucket, in redirect mode) was contacted.
    allowed_off_origin = {bucket_host} if mode == "redirect" else set()
    assert {urlsplit(url).netloc for url in report["offOriginRequests"]} <= allowed_off_origin
