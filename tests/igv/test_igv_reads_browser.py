"""igv.js in Debian's headless Chromium reads BAM and CRAM from S3 through seqr, under the role's CSP.

The whole read path is real: SeaweedFS (SigV4) holds the pysam fixtures, the seqr stand-in runs in gunicorn
with the role's settings block appended to a copy of its settings.py (as the role's blockinfile does), the
role's nginx site is in front, and the stand-in's IGV page imports the npm-installed igv.js from the site's
/static/ and a small FASTA from /reference/. A logged-in browser opens the page in each serving mode; the
test then asserts on what igv.js itself loaded, on the requests it made through seqr's IGV API, and on the
CSP violations the browser reported. Dropping one IGV style hash from the policy must produce a violation,
so the zero-violation check can fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fixtures.nginx import NginxServer, load_role_renderer, start_nginx
from fixtures.seaweed import free_loopback_ports
from fixtures.standin import (
    STANDIN_DIR,
    TESTS_DIR,
    StandinServer,
    prepare_database,
    session_cookie_name,
    standin_env,
    start_standin,
    write_accel_secret,
    write_aws_files,
)
from igv_css_support import (
    IGV_ESM_BUILD,
    READS_DRIVER,
    REPO_ROOT,
    assert_reads_shown_through_seqr,
    igv_reads_page_url,
    install_igv,
    load_hash_table,
    open_igv_reads_page,
    version_key,
)

ARTIFACTS = REPO_ROOT / "test-artifacts"
PROJECT = "R0001_project_1"
ALLOWED_PREFIX = "s3://seqr-reads/reads/"
# The two IgvSample rows the page shows (tests/fixtures/session.py seeds individuals I_<name>).
PAGE_INDIVIDUALS = ("I_bam", "I_cram")
# Covered by many reads on both tracks (the fixtures spread 2400 reads over chr1's 6000 bp).
LOCUS = "chr1:1000-1400"
# The settings module the role's block is appended to: a copy of the stand-in's settings.py under another
# name, because gunicorn puts the stand-in's own folder (its working directory) first on sys.path.
ROLE_SETTINGS_MODULE = "settings_with_role_block"
# What encodeURIComponent leaves unescaped besides letters and digits.
URI_COMPONENT_SAFE = "-_.!~*'()"

TABLE = load_hash_table()
# Every igv.js release the role's table knows (seqr's pin 2.10.5 first): each must show reads under its CSP.
VERSIONS = sorted(TABLE, key=version_key)
MODES = ["accel", "proxy", "redirect"]


@dataclass
class IgvSite:
    """One seqr host: the stand-in (role settings block applied) behind the role's nginx site."""

    standin: StandinServer
    nginx: NginxServer
    mode: str
    igv_version: str

    @property
    def origin(self) -> str:
        return self.nginx.base_url

    def stop(self) -> None:
        self.nginx.stop()
        self.standin.stop()


@pytest.fixture(scope="session")
def igv_package(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``install(version)`` → the folder of igv@version installed from npm (once per version per session)."""
    installed: dict[str, Path] = {}

    def install(version: str) -> Path:
        if version not in installed:
            installed[version] = install_igv(version, tmp_path_factory.mktemp(f"igv-{version}"))
        return installed[version]

    return install


@pytest.fixture(scope="session")
def served_files_root() -> Iterator[Path]:
    """A folder nginx's workers may read: they run as an unprivileged user, and pytest's tmp is root-only."""
    folder = Path(tempfile.mkdtemp(prefix="seqr_s3_igv_site_"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def readable_folder(path: Path) -> Path:
    """Create ``path`` (and parents below the served root) readable by nginx's workers."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def readable_copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    target.chmod(0o644)


@pytest.fixture(scope="session")
def reference_root(reads: Any, served_files_root: Path) -> Path:
    """The folder nginx serves at /reference/: the FASTA and .fai the CRAM was written against."""
    folder = readable_folder(served_files_root / "reference")
    readable_copy(reads.fasta, folder / "reference.fa")
    readable_copy(reads.fai, folder / "reference.fa.fai")
    return folder


def role_settings_module(folder: Path, overrides: dict[str, Any], dropped_hash: str | None) -> Path:
    """Write the stand-in's settings.py plus the role's rendered settings block, as blockinfile would.

    ``dropped_hash`` is removed from both the role's list and seqr's own IGV_CSS_HASHES (upstream pins
    2.10.5's four), so the policy really lacks it.
    """
    renderer = load_role_renderer()
    settings_text = (STANDIN_DIR / "settings.py").read_text()
    if dropped_hash is not None:
        table_sources = TABLE[overrides["seqr_s3_igv_version"]]
        overrides = {**overrides, "seqr_s3_igv_css_hashes": [s for s in table_sources if s != dropped_hash]}
        settings_text = settings_text.replace(f'    "{dropped_hash}",\n', "")
        assert dropped_hash not in settings_text, "seqr's settings still list the hash the trial drops"
    block = renderer.render_template(
        "settings_block.py.j2", overrides, extra_context={"__seqr_s3_csp_major": 3}
    )
    folder.mkdir(parents=True, exist_ok=True)
    module = folder / f"{ROLE_SETTINGS_MODULE}.py"
    module.write_text(f"{settings_text}\n# BEGIN seqr_s3 managed block\n{block}# END seqr_s3 managed block\n")
    return module


@pytest.fixture(scope="session")
def bucket_cors(s3_bucket: Any) -> Callable[[str], None]:
    """``allow(origin)``: the bucket's CORS rules grant igv.js on ``origin`` ranged GETs (redirect mode)."""
    origins: list[str] = []

    def allow(origin: str) -> None:
        if origin in origins:
            return
        origins.append(origin)
        s3_bucket.server.client().put_bucket_cors(
            Bucket=s3_bucket.name,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": list(origins),
                        "AllowedMethods": ["GET", "HEAD"],
                        "AllowedHeaders": ["Range", "If-Range"],
                        "ExposeHeaders": ["Content-Range", "Content-Length", "ETag", "Accept-Ranges"],
                        "MaxAgeSeconds": 600,
                    }
                ]
            },
        )

    return allow


@pytest.fixture
def igv_site(
    tmp_path: Path,
    s3_bucket: Any,
    standin_data: Any,
    igv_package: Callable[[str], Path],
    reference_root: Path,
    served_files_root: Path,
    bucket_cors: Callable[[str], None],
) -> Iterator[Callable[..., IgvSite]]:
    """``start(mode, igv_version, dropped_hash=None)``: a seqr host for one test, stopped after it."""
    started: list[IgvSite] = []

    def start(
        mode: str, igv_version: str, dropped_hash: str | None = None, authorize_ttl: int | None = None
    ) -> IgvSite:
        s3 = s3_bucket.server
        role_vars = {
            "seqr_s3_mode": mode,
            "seqr_s3_allowed_prefixes": [ALLOWED_PREFIX],
            "seqr_s3_endpoint_url": s3.endpoint_url,
            "seqr_s3_region": s3.region,
            "seqr_s3_addressing_style": "path",
            "seqr_s3_igv_version": igv_version,
        }
        settings_folder = tmp_path / "settings"
        # The per-host secret as the role keeps it: seqr reads the file, nginx sends the value.
        secret_file = write_accel_secret(tmp_path / "accel_secret")
        role_settings_module(
            settings_folder, {**role_vars, "__seqr_s3_accel_secret_file": str(secret_file)}, dropped_hash
        )
        # The role's credentials files name its profile (seqr_s3_aws_profile); seqr's read-only keys go there.
        profile = load_role_renderer().role_variables(role_vars)["seqr_s3_aws_profile"]
        aws_files = write_aws_files(
            tmp_path / "aws", s3.reader.access_key, s3.reader.secret_key, s3.region, profile=profile
        )
        # The role's nginx passes Host without the port, so Django's CSRF check of a browser's login form
        # (Origin carries the port) needs the site's origin trusted: seqr's BASE_URL (CSRF_TRUSTED_ORIGINS).
        port = free_loopback_ports(1)[0]
        env = standin_env(
            db_path=tmp_path / "db.sqlite3",
            settings_module=ROLE_SETTINGS_MODULE,
            aws_files=aws_files,
            extra={
                "PYTHONPATH": ":".join([str(settings_folder), str(STANDIN_DIR), str(TESTS_DIR)]),
                "BASE_URL": f"http://127.0.0.1:{port}",
            },
        )
        prepare_database(env, standin_data.seed, tmp_path)
        standin = start_standin(tmp_path / "gunicorn", env)
        # The site's static files hold the igv.js build the page imports, as seqr's collectstatic output.
        static_root = readable_folder(served_files_root / f"static-{tmp_path.name}")
        dist = readable_folder(readable_folder(static_root / "igv") / "dist")
        readable_copy(igv_package(igv_version) / IGV_ESM_BUILD, dist / IGV_ESM_BUILD.name)
        # Authorize once (on by default in accel; authorize_ttl overrides the role's TTL): the grants in a
        # folder of nginx's workers' user, keyed on the session cookie this seqr's settings name.
        authorize: dict[str, Any] = {}
        if mode == "accel":
            grants = readable_folder(served_files_root / f"grants-{tmp_path.name}")
            shutil.chown(grants, "nobody")
            grants.chmod(0o700)
            authorize = {
                "seqr_s3_nginx_authorize_cache_path": str(grants),
                "seqr_s3_nginx_session_cookie_name": session_cookie_name(env),
            }
        if authorize_ttl is not None:
            authorize["seqr_s3_nginx_authorize_ttl"] = authorize_ttl
        try:
            nginx = start_nginx(
                tmp_path / "nginx",
                standin.bind,
                port,
                {
                    **role_vars,
                    **authorize,
                    "seqr_s3_nginx_static_root": str(static_root),
                    "seqr_s3_nginx_reference_root": str(reference_root),
                },
                accel_secret=secret_file.read_text().strip(),
            )
        except BaseException:
            standin.stop()
            raise
        site = IgvSite(standin=standin, nginx=nginx, mode=mode, igv_version=igv_version)
        started.append(site)
        if mode == "redirect":
            bucket_cors(site.origin)
        return site

    try:
        yield start
    finally:
        for site in started:
            site.stop()


def open_igv_page(site: IgvSite, session_cookies: dict[str, str], screenshot: Path | None) -> dict[str, Any]:
    """Open the IGV page as the logged-in user; returns the browser driver's JSON report."""
    url = igv_reads_page_url(site.origin, PROJECT, PAGE_INDIVIDUALS, LOCUS)
    return open_igv_reads_page(url, session_cookies, screenshot)


def track_url(s3_path: str) -> str:
    """The path seqr's UI asks for: the s3 path through encodeURIComponent."""
    return f"/api/project/{PROJECT}/igv_track/{quote(s3_path, safe=URI_COMPONENT_SAFE)}"


def expected_track_paths(s3_bucket: Any) -> dict[str, str]:
    """Data and index URLs igv.js must request: BAM index as ``<url>.bai``, CRAM index from its IgvSample."""
    return {
        "bam": track_url(s3_bucket["bam"].s3_path),
        "bam index": track_url(s3_bucket["bam"].s3_path) + ".bai",
        "cram": track_url(s3_bucket["cram"].s3_path),
        "cram index": track_url(s3_bucket["crai"].s3_path),
    }


def login_cookies(seeded_session: Callable[..., Any], site: IgvSite) -> dict[str, str]:
    """The collaborator's session and CSRF cookies, obtained through the site (nginx) as a browser would."""
    session = seeded_session(site.nginx, "collaborator")
    return {cookie.name: cookie.value for cookie in session.cookies}


@pytest.mark.parametrize("igv_version", VERSIONS)
@pytest.mark.parametrize("mode", MODES)
def test_igv_shows_reads_from_s3_with_no_csp_violation(
    mode: str,
    igv_version: str,
    igv_site: Callable[..., IgvSite],
    seeded_session: Callable[..., Any],
    s3_bucket: Any,
) -> None:
    """igv.js loads reads for both tracks via seqr's IGV API (ranges answered 206) and nothing is blocked."""
    site = igv_site(mode, igv_version)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"igv-s3-{mode}-{igv_version}.png"
    report = open_igv_page(site, login_cookies(seeded_session, site), screenshot)

    assert_reads_shown_through_seqr(
        report,
        mode=mode,
        igv_version=igv_version,
        site_origin=site.origin,
        bucket_origin=s3_bucket.server.endpoint_url,
        track_paths=expected_track_paths(s3_bucket),
    )
    assert screenshot.stat().st_size > 0


def test_igv_shows_reads_with_authorize_once(
    igv_site: Callable[..., IgvSite], seeded_session: Callable[..., Any], s3_bucket: Any
) -> None:
    """accel with authorize once (seqr_s3_nginx_authorize_ttl): igv.js (the table's first version) reads both
    tracks through nginx's grants with no CSP violation."""
    site = igv_site("accel", VERSIONS[0], authorize_ttl=30)
    report = open_igv_page(site, login_cookies(seeded_session, site), None)
    assert_reads_shown_through_seqr(
        report,
        mode="accel",
        igv_version=VERSIONS[0],
        site_origin=site.origin,
        bucket_origin=s3_bucket.server.endpoint_url,
        track_paths=expected_track_paths(s3_bucket),
    )
    # The reads came through nginx's grants: it kept some (in its own folder, named by the rendered site).
    grants = Path(site.nginx.site_text.split("proxy_cache_path ", 1)[1].split()[0])
    assert any(path.is_file() for path in grants.rglob("*")), "nginx kept no grant"


def test_a_visitor_logs_in_on_the_login_page_and_igv_shows_reads(
    igv_site: Callable[..., IgvSite], standin_data: Any, s3_bucket: Any
) -> None:
    """No session: the IGV page sends the browser to the login page, whose form (with its CSRF token) logs the
    collaborator in and comes back to the page, where igv.js (seqr's pin) shows both tracks; neither page
    reports a CSP violation. What a person does after `make demo` (molecule/default/tests/test_55_demo.py)."""
    site = igv_site("accel", VERSIONS[0])
    url = igv_reads_page_url(site.origin, PROJECT, PAGE_INDIVIDUALS, LOCUS)
    user = standin_data.users["collaborator"]
    report = open_igv_reads_page(url, {}, None, login=(user.email, user.password))
    assert report["login"]["status"] == 200
    assert urlsplit(report["login"]["url"]).path == "/login"
    assert report["url"] == url
    assert_reads_shown_through_seqr(
        report,
        mode="accel",
        igv_version=VERSIONS[0],
        site_origin=site.origin,
        bucket_origin=s3_bucket.server.endpoint_url,
        track_paths=expected_track_paths(s3_bucket),
    )


@pytest.mark.parametrize("igv_version", VERSIONS)
def test_a_missing_igv_hash_is_reported_as_a_violation(
    igv_version: str, igv_site: Callable[..., IgvSite], seeded_session: Callable[..., Any]
) -> None:
    """Same page and site with one of the version's style hashes left out: the browser must report it."""
    dropped = TABLE[igv_version][0]
    site = igv_site("accel", igv_version, dropped_hash=dropped)
    report = open_igv_page(site, login_cookies(seeded_session, site), None)
    assert report["violations"], "no violation although a needed style hash is missing"
    assert {v["effectiveDirective"] for v in report["violations"]} <= {"style-src-elem", "style-src"}


@pytest.mark.parametrize("field", ["home", "hostResolverRules"])
def test_the_driver_refuses_a_browser_option_that_is_not_a_string(field: str) -> None:
    """Bad input to the driver is a usage error naming the field, before any browser starts."""
    request = {"url": "http://127.0.0.1:9/", "screenshot": None, field: ["not", "a", "string"]}
    completed = subprocess.run(
        ["node", str(READS_DRIVER)], input=json.dumps(request), capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 2
    assert f'"{field}" must be a string' in completed.stderr
