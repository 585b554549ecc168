"""Shared pieces of the scenario's verify: where the hosts are, the fixtures, logins, and re-running the role.

Molecule runs these tests on the controller with its environment (MOLECULE_* variables, the generated
ansible.cfg, ANSIBLE_ROLES_PATH), so re-applying the role here is exactly what converge did, with other vars.
Requests go from the controller to the seqr container over podman's network, as a browser's would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import testinfra

SCENARIO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCENARIO_DIR))
# The browser helpers the loopback igv.js tests use (tests/igv).
sys.path.insert(0, str(SCENARIO_DIR.parents[1] / "tests" / "igv"))
from igv_css_support import igv_reads_page_url, open_igv_reads_page  # noqa: E402
from scenario_data import IGV_LOCUS, IGV_PAGE_INDIVIDUALS, container_address, s3_client  # noqa: E402

# Container (and host) names: molecule/real_seqr runs these same tests on its own pair of containers, named
# apart so that both scenarios can exist on one machine.
SEQR_CONTAINER = os.environ.get("SEQR_S3_SEQR_CONTAINER", "seqr")
S3_CONTAINER = os.environ.get("SEQR_S3_S3_CONTAINER", "s3")
# Django system check ids the seqr under test raises on its own (real seqr without a UI build: W004, W342).
EXPECTED_CHECK_WARNINGS = frozenset(
    name for name in os.environ.get("SEQR_S3_EXPECTED_CHECK_WARNINGS", "").split(",") if name
)
REQUEST_TIMEOUT = 120  # seconds; generous, the 256 MiB object is read whole in some tests
# real_seqr runs these tests too; upstream seqr without its UI build has no page that embeds igv.js.
NO_IGV_PAGE = os.environ.get("SEQR_S3_NO_IGV_PAGE", "")
needs_igv_page = pytest.mark.skipif(bool(NO_IGV_PAGE), reason=NO_IGV_PAGE)
# How the seqr unit runs manage.py: its environment file, as the seqr user, in the checkout.
MANAGE = (
    "cd /seqr && set -a && . /etc/default/seqr && set +a && runuser -u seqr -- /opt/venv/bin/python manage.py"
)
# What encodeURIComponent leaves unescaped besides letters and digits.
URI_SAFE = "-_.!~*'()"


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(
            f"{name} is not set: run these tests through `molecule verify` (make molecule)", returncode=2
        )
    return value


@dataclass(frozen=True)
class Scenario:
    """What prepare made: fixture files and their S3 objects, the seqr login, the hosts' addresses."""

    state_dir: Path
    manifest: dict[str, Any]
    seqr_url: str
    s3_endpoint: str

    @property
    def objects(self) -> dict[str, dict[str, Any]]:
        return self.manifest["objects"]

    def track_url(self, uri: str, project: str | None = None) -> str:
        """seqr's IGV track URL for an s3:// path, encoded as the UI does (encodeURIComponent)."""
        project = project or self.manifest["project"]
        return f"{self.seqr_url}/api/project/{project}/igv_track/{quote(uri, safe='')}"

    def password(self) -> str:
        return (self.state_dir / "seqr_password").read_text().strip()

    def secret_key(self) -> str:
        return (self.state_dir / "s3_secret_key").read_text().strip()

    def expected_bytes(self, name: str, first: int, last: int) -> bytes:
        """Bytes first..last (inclusive) of the local file uploaded as object ``name``."""
        with open(self.objects[name]["file"], "rb") as f:
            f.seek(first)
            return f.read(last - first + 1)


def igv_track_paths(scenario: Scenario) -> dict[str, str]:
    """The URL paths igv.js on the IGV page must ask seqr for: BAM index as ``<url>.bai``, CRAM index from its
    IgvSample (tests/igv/igv_css_support.py's assert_reads_shown_through_seqr takes them)."""
    project = scenario.manifest["project"]

    def path(name: str) -> str:
        return f"/api/project/{project}/igv_track/{quote(scenario.objects[name]['uri'], safe=URI_SAFE)}"

    return {
        "bam": path("bam"),
        "bam index": path("bam") + ".bai",
        "cram": path("cram"),
        "cram index": path("crai"),
    }


def allow_site_origin_in_bucket_cors(scenario: Scenario) -> None:
    """CORS on the reads bucket for the seqr site's origin, so igv.js follows redirect mode's 302 to it."""
    client = s3_client(scenario.state_dir, scenario.s3_endpoint)
    client.put_bucket_cors(
        Bucket=scenario.manifest["bucket"],
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [scenario.seqr_url],
                    "AllowedMethods": ["GET", "HEAD"],
                    "AllowedHeaders": ["Range", "If-Range"],
                    "ExposeHeaders": ["Content-Range", "Content-Length", "ETag", "Accept-Ranges"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )


def open_igv_page(scenario: Scenario, screenshot: Path | None, **browser: Any) -> dict[str, Any]:
    """The IGV page of the project's BAM and CRAM in the controller's Chromium, opened by the project's
    collaborator; ``browser`` goes to tests/igv's open_igv_reads_page (browser_home, host_resolver_rules)."""
    session = login(scenario, scenario.manifest["user_email"])
    cookies = {cookie.name: cookie.value for cookie in session.cookies}
    url = igv_reads_page_url(scenario.seqr_url, scenario.manifest["project"], IGV_PAGE_INDIVIDUALS, IGV_LOCUS)
    return open_igv_reads_page(url, cookies, screenshot, **browser)


def load_scenario() -> Scenario:
    """What prepare left in Molecule's ephemeral directory (molecule/real_seqr/tests call it directly)."""
    state_dir = Path(_env("MOLECULE_EPHEMERAL_DIRECTORY")) / "scenario"
    manifest = json.loads((state_dir / "manifest.json").read_text())
    return Scenario(
        state_dir=state_dir,
        manifest=manifest,
        seqr_url=f"http://{container_address(SEQR_CONTAINER)}",
        s3_endpoint=f"http://{container_address(S3_CONTAINER)}:7480",
    )


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario()


@pytest.fixture(scope="session")
def seqr_host() -> testinfra.host.Host:
    return testinfra.get_host(f"podman://{SEQR_CONTAINER}")


@pytest.fixture(scope="session")
def s3_host() -> testinfra.host.Host:
    return testinfra.get_host(f"podman://{S3_CONTAINER}")


def login(scenario: Scenario, email: str) -> requests.Session:
    """A session logged in to seqr the way its UI does it: CSRF cookie from the page, then POST /api/login."""
    session = requests.Session()
    page = session.get(scenario.seqr_url + "/", timeout=REQUEST_TIMEOUT)
    page.raise_for_status()
    answer = session.post(
        scenario.seqr_url + "/api/login",
        json={"email": email, "password": scenario.password()},
        headers={"X-CSRFToken": session.cookies["csrf_token"]},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 200, f"login as {email} failed: {answer.status_code} {answer.text[:200]}"
    return session


@pytest.fixture(scope="session")
def analyst(scenario: Scenario) -> requests.Session:
    """The collaborator of the project the fixtures are registered to."""
    return login(scenario, scenario.manifest["user_email"])


def apply_role(**extra_vars: Any) -> subprocess.CompletedProcess[str]:
    """Run converge.yml again with extra vars; the caller decides whether failure is expected.

    Extra vars go through a private temporary file, so values such as keys never appear on a command line.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as vars_file:
        json.dump(extra_vars, vars_file)
    try:
        return subprocess.run(
            [
                "ansible-playbook",
                "--inventory",
                str(Path(_env("MOLECULE_INVENTORY_FILE")).parent),
                "--extra-vars",
                f"@{vars_file.name}",
                str(SCENARIO_DIR / "converge.yml"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(vars_file.name)


def apply_role_or_fail(**extra_vars: Any) -> subprocess.CompletedProcess[str]:
    """apply_role that must succeed; shows Ansible's tail when it does not."""
    result = apply_role(**extra_vars)
    assert result.returncode == 0, f"role failed with {extra_vars.keys()}:\n{result.stdout[-4000:]}"
    return result


def wait_until(check: Any, what: str, attempts: int = 60, pause: float = 1.0) -> Any:
    """Retry ``check`` until it returns something truthy (services take a moment); fail naming ``what``."""
    for _ in range(attempts):
        value = check()
        if value:
            return value
        time.sleep(pause)
    pytest.fail(f"gave up waiting for {what}")


# The role's variables as last applied on top of molecule.yml's group_vars (converge leaves accel). A role run
# through podman takes minutes here, so tests ask for a state and the role runs only when it differs.
_applied: dict[str, Any] = {"seqr_s3_mode": "accel"}


def ensure_role(**extra_vars: Any) -> None:
    """Apply the role with exactly these overrides, unless that is what the hosts already have."""
    if extra_vars == _applied:
        return
    forget_applied()  # a failed run leaves the hosts in no known state
    apply_role_or_fail(**extra_vars)
    remember_applied(**extra_vars)


def forget_applied() -> None:
    """The hosts' state is unknown (a run that was expected to fail); the next ensure_role runs the role."""
    _applied.clear()
    _applied["unknown"] = True


def remember_applied(**extra_vars: Any) -> None:
    """The hosts are known to be in the state these overrides give."""
    _applied.clear()
    _applied.update(extra_vars)
