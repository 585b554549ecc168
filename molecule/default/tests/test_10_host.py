"""The converged seqr host, looked at from inside: nginx, the site, Django's checks, the operator command,
the credentials file and the Content-Security-Policy seqr sends.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
import testinfra
import yaml
from conftest import EXPECTED_CHECK_WARNINGS, MANAGE, REQUEST_TIMEOUT, Scenario, ensure_role

ROLE_DIR = Path(__file__).resolve().parents[3] / "roles" / "seqr_s3"
SITE = "/etc/nginx/sites-available/seqr"
CREDENTIALS = "/home/seqr/.aws/credentials"


@pytest.fixture(scope="module", autouse=True)
def _converged_state() -> None:
    """These checks describe the converged host (accel mode)."""
    ensure_role(seqr_s3_mode="accel")


def test_nginx_configuration_is_valid(seqr_host: testinfra.host.Host) -> None:
    result = seqr_host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert seqr_host.service("nginx").is_running


def test_site_file_is_the_roles_and_enabled(seqr_host: testinfra.host.Host) -> None:
    site = seqr_host.file(SITE)
    assert site.is_file and site.user == "root" and site.mode == 0o644
    content = site.content_string
    assert "seqr_s3 managed nginx site" in content
    internal = r"location\s+(\^~\s+)?/_seqr_s3_internal/\s*\{[^}]*\binternal;"
    assert re.search(internal, content), "the accel location is missing or not internal"
    assert "unix:/run/seqr/gunicorn.sock" in content
    link = seqr_host.file("/etc/nginx/sites-enabled/seqr")
    assert link.is_symlink and link.linked_to == SITE


def test_django_system_checks_are_clean(seqr_host: testinfra.host.Host) -> None:
    result = seqr_host.run(f"{MANAGE} check")
    assert result.rc == 0, result.stderr
    assert "seqr_s3." not in result.stdout + result.stderr
    # Django prints each issue as "<object>: (<check id>) <message>".
    raised = set(re.findall(r"\(([a-z_]+\.[A-Z]\d{3})\)", result.stdout + result.stderr))
    if not EXPECTED_CHECK_WARNINGS:
        assert "System check identified no issues" in result.stdout
    assert raised <= EXPECTED_CHECK_WARNINGS, (
        f"unexpected system check issues: {raised - EXPECTED_CHECK_WARNINGS}"
    )


def test_operator_check_command_reads_a_fixture(seqr_host: testinfra.host.Host, scenario: Scenario) -> None:
    bam = scenario.objects["bam"]
    result = seqr_host.run(f"{MANAGE} seqr_s3_check '{bam['uri']}'")
    assert result.rc == 0, result.stdout + result.stderr
    assert str(bam["size"]) in result.stdout


def test_operator_check_command_says_why_not(seqr_host: testinfra.host.Host, scenario: Scenario) -> None:
    missing = f"s3://{scenario.manifest['bucket']}/reads/no-such-sample.bam"
    result = seqr_host.run(f"{MANAGE} seqr_s3_check '{missing}'")
    assert result.rc != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() or result.stdout.strip()


def test_credentials_file_is_private_to_the_seqr_user(seqr_host: testinfra.host.Host) -> None:
    credentials = seqr_host.file(CREDENTIALS)
    assert credentials.is_file
    assert credentials.user == "seqr"
    assert credentials.mode == 0o600
    assert seqr_host.file("/home/seqr/.aws").mode & 0o077 == 0


def test_csp_of_the_page_carries_igv_hashes_and_connect_src(scenario: Scenario) -> None:
    """The page's CSP allows igv.js 2.10.5's <style> elements and keeps seqr's own connect-src entries."""
    table = yaml.safe_load((ROLE_DIR / "vars" / "igv_css_hashes.yml").read_text())[
        "seqr_s3_igv_css_hash_table"
    ]
    response = requests.get(scenario.seqr_url + "/", timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200
    directives = csp_directives(response.headers["Content-Security-Policy"])
    for name in ("style-src", "style-src-elem"):
        for source in table["2.10.5"]:
            assert source in directives[name], f"{source} missing from {name}"
    # Entries every seqr since 2021 (and the stand-in) has in CSP_CONNECT_SRC; later ones (s3.amazonaws.com,
    # 2022 on) are not in seqr of 2021.
    assert "'self'" in directives["connect-src"]
    assert "https://storage.googleapis.com" in directives["connect-src"]


def csp_directives(header: str) -> dict[str, list[str]]:
    """A CSP header as {directive: [sources]}."""
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives
