"""The role's optional nginx slice cache (seqr_s3_nginx_slice_cache): rendering, the real `nginx -t`, what the
cache's own server sends S3 and keys its slices by, and the role tasks that create and retire its folder.

The byte-level behaviour through seqr and a real S3 server is in python/tests/integration/test_slice_cache.py;
here a small app hands out a new signature on every request (as seqr does once a presigned URL ages), which
shows the cache key ignores the signature, and a small store records what reached it.
"""

from __future__ import annotations

import itertools
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from fixtures.nginx import start_nginx
from fixtures.seaweed import free_loopback_ports
from loopback_servers import serving_in_threads
from role_play import changed_count, run_role
from role_render import DEBIAN_MODULES, ROLE_DIR, built_wheel, nginx_test, render_template

CACHE_ON = {"seqr_s3_nginx_slice_cache": True, "seqr_s3_nginx_resolvers": ["127.0.0.1"]}
SLICE = 1 << 20
OBJECT = bytes(itertools.islice(itertools.cycle(range(251)), 3 * SLICE + 1000))
TRACK = "/api/project/P1/igv_track/s3%3A%2F%2Fb%2Fobject.bam"


def _worker_owned_folder(user: str = "nobody") -> Path:
    """A cache folder as the role creates it, where root-started nginx's workers (nobody) can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="seqr_s3_slice_role_"))
    shutil.chown(folder, user)
    folder.chmod(0o700)
    return folder


def directives(site: str) -> list[str]:
    """The site's lines without comments, stripped."""
    return [line.strip() for line in site.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_off_by_default_and_never_outside_accel(mode: str) -> None:
    default = render_template("nginx_site.conf.j2", {"seqr_s3_mode": mode})
    switched_on = render_template("nginx_site.conf.j2", {**CACHE_ON, "seqr_s3_mode": mode})
    for site in (default, switched_on if mode != "accel" else default):
        slicing = [line for line in directives(site) if "seqr_s3_slices" in line or line.startswith("slice ")]
        assert not slicing
    if mode == "accel":
        assert "proxy_cache seqr_s3_slices;" in switched_on


@pytest.mark.parametrize("pooled", [False, True], ids=["url-per-request", "keepalive-pool"])
def test_nginx_accepts_the_cache_with_both_upstream_variants(pooled: bool, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    overrides = {**CACHE_ON, "seqr_s3_nginx_slice_cache_path": str(folder)}
    if pooled:
        overrides["seqr_s3_nginx_s3_keepalive_servers"] = ["127.0.0.1:8333"]
    site = render_template("nginx_site.conf.j2", overrides)
    checked = nginx_test(site, tmp_path / "nginx")
    assert checked.returncode == 0, checked.stderr
    assert (folder / "slices").is_dir(), "nginx -t creates the cache inside the role's folder"
    assert f"listen unix:{folder}/slices.sock;" in site
    assert ("proxy_pass https://seqr_s3_store$seqr_s3_signed_path;" in site) == pooled


def test_single_site_check_hands_the_cache_folder_to_nginxs_user(tmp_path: Path) -> None:
    """files/nginx-test-site runs `nginx -t`, which creates slices/ and gives it to the configured user."""
    folder = _worker_owned_folder("www-data")
    try:
        candidate = tmp_path / "site.conf"
        candidate.write_text(
            render_template(
                "nginx_site.conf.j2",
                {
                    **CACHE_ON,
                    "seqr_s3_nginx_slice_cache_path": str(folder),
                    # nginx -t creates the grants' folder too: this test's, not /run's.
                    "seqr_s3_nginx_authorize_cache_path": str(folder / "grants"),
                },
            )
        )
        script = ROLE_DIR / "files" / "nginx-test-site"
        done = subprocess.run(
            [str(script), str(candidate), "/etc/nginx/mime.types", "www-data", DEBIAN_MODULES],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert (folder / "slices").stat().st_uid == pwd.getpwnam("www-data").pw_uid
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Seen:
    """What the store received, and how many answers the app gave."""

    def __init__(self) -> None:
        self.store: list[tuple[str, dict[str, str]]] = []
        self.signatures = itertools.count()


def _store(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Store(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.store.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if "missing" in self.path:
                self._send(404, b"<Error><Code>NoSuchKey</Code></Error>", {})
                return
            first, last = (int(n) for n in self.headers["Range"].removeprefix("bytes=").split("-"))
            last = min(last, len(OBJECT) - 1)
            headers = {"Content-Range": f"bytes {first}-{last}/{len(OBJECT)}", "ETag": '"v1"'}
            # An object whose metadata forbids caching: the operator's validity wins.
            headers["Cache-Control"] = "no-store"
            self._send(206, OBJECT[first : last + 1], headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet: ``seen`` keeps what matters."""

    return Store


def _app(seen: Seen, store_port: int) -> type[BaseHTTPRequestHandler]:
    class App(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            key = self.path.rsplit("%2F", 1)[-1]
            # A new signature every time: the cache must still find the slices of the same object.
            signed = f"http://127.0.0.1:{store_port}/b/{key}?X-Amz-Signature=s{next(seen.signatures)}"
            self.send_response(200)
            self.send_header("X-Accel-Redirect", "/_seqr_s3_internal/")
            self.send_header("X-Seqr-S3-Url", signed)
            self.send_header("X-Seqr-S3-Host", f"signed.example:{store_port}")
            # The test names the canonical Range seqr would have derived from the client's header.
            self.send_header("X-Seqr-S3-Range", self.headers.get("X-Test-Canonical-Range", ""))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet."""

    return App


@pytest.fixture(scope="module")
def cached_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seen]]:
    """nginx with the cache on in front of the app, the app signing URLs for the store."""
    seen = Seen()
    store = ThreadingHTTPServer(("127.0.0.1", 0), _store(seen))
    app = ThreadingHTTPServer(("127.0.0.1", 0), _app(seen, store.server_address[1]))
    folder = _worker_owned_folder()
    try:
        with serving_in_threads(store, app):
            nginx = start_nginx(
                tmp_path_factory.mktemp("nginx_slice_cache"),
                f"127.0.0.1:{app.server_address[1]}",
                free_loopback_ports(1)[0],
                {
                    **CACHE_ON,
                    "seqr_s3_nginx_slice_cache_path": str(folder),
                    "seqr_s3_nginx_resolvers": [],
                    # The app answers as seqr's per-request way; the cache behind authorize once is exercised
                    # with the real stand-in in python/tests/integration/test_authorize_once.py.
                    "seqr_s3_nginx_authorize_ttl": 0,
                },
            )
            try:
                yield nginx.base_url, seen
            finally:
                nginx.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _get(base: str, path: str, canonical_range: str = "", **headers: str) -> requests.Response:
    return requests.get(
        base + path, headers={"X-Test-Canonical-Range": canonical_range, **headers}, timeout=30
    )


def test_store_gets_whole_slices_with_only_the_signed_host_and_range(cached_site: tuple[str, Seen]) -> None:
    base, seen = cached_site
    before = len(seen.store)
    response = _get(
        base,
        TRACK,
        "bytes=10-19",
        Cookie="sessionid=user-session",
        Authorization="Bearer user-token",
        **{"If-Range": '"other"'},
    )
    assert (response.status_code, response.content) == (206, OBJECT[10:20])
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(OBJECT)}"
    target, headers = seen.store[before]
    assert target.startswith("/b/object.bam?X-Amz-Signature=s")
    # No If-Range (seqr decided it already; a slice must be the same bytes for every reader), no Cookie.
    assert set(headers) == {"host", "range"}
    assert headers["host"].startswith("signed.example:")
    assert headers["range"] == f"bytes=0-{SLICE - 1}"


def test_slices_are_keyed_by_the_object_not_the_signature(cached_site: tuple[str, Seen]) -> None:
    base, seen = cached_site
    first = _get(base, TRACK, f"bytes={SLICE + 5}-{SLICE + 9}")
    requests_after_first = len(seen.store)
    again = _get(base, TRACK, f"bytes={SLICE + 100}-{SLICE + 199}")
    assert first.content == OBJECT[SLICE + 5 : SLICE + 10]
    assert again.content == OBJECT[SLICE + 100 : SLICE + 200]
    assert len(seen.store) == requests_after_first, "the second signature found the cached slice"


def test_ranges_across_slices_and_whole_objects_are_assembled(cached_site: tuple[str, Seen]) -> None:
    base, _ = cached_site
    across = _get(base, TRACK, f"bytes={SLICE - 10}-{2 * SLICE + 9}")
    assert (across.status_code, across.content) == (206, OBJECT[SLICE - 10 : 2 * SLICE + 10])
    whole = _get(base, TRACK)
    assert (whole.status_code, whole.content) == (200, OBJECT)
    past_end = _get(base, TRACK, f"bytes={len(OBJECT)}-")
    assert past_end.status_code == 416
    assert past_end.headers["Content-Range"] == f"bytes */{len(OBJECT)}"


def test_store_errors_are_asked_again_every_time(cached_site: tuple[str, Seen]) -> None:
    base, seen = cached_site
    path = TRACK.replace("object.bam", "missing.bam")
    for attempt in range(2):
        before = len(seen.store)
        response = _get(base, path, "bytes=0-9")
        assert (response.status_code, response.text) == (404, "Not found in the read store\n")
        assert len(seen.store) == before + 1, f"attempt {attempt}: the 404 was not cached"


# --- The role's tasks for the cache folder, run on this machine by ansible-playbook -------------------------


def _run_role_tasks(tasks: str, variables: dict, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_role(variables, tmp_path, tasks, *extra)


# The role chowns the folder to nginx's user, which only root can do; CI (.ci/run, `make test`) runs as root.
@pytest.mark.usefixtures("as_root")
def test_role_creates_keeps_and_retires_the_cache_folder(tmp_path: Path) -> None:
    folder = tmp_path / "var_cache" / "seqr_s3_nginx"
    on = {
        "seqr_s3_nginx_slice_cache": True,
        "seqr_s3_nginx_slice_cache_path": str(folder),
        "__seqr_s3_nginx_user": "www-data",
    }
    checked = _run_role_tasks("slice_cache.yml", on, tmp_path, "--check")
    assert checked.returncode == 0, checked.stdout
    assert not folder.exists(), "check mode creates nothing"

    created = _run_role_tasks("slice_cache.yml", on, tmp_path)
    assert created.returncode == 0, created.stdout
    assert folder.stat().st_uid == pwd.getpwnam("www-data").pw_uid
    assert folder.stat().st_mode & 0o777 == 0o700
    again = _run_role_tasks("slice_cache.yml", on, tmp_path)
    assert changed_count(again.stdout) == 0, again.stdout

    (folder / "slices").mkdir()
    (folder / "slices" / "cached-read").write_bytes(b"patient read")
    off = {**on, "seqr_s3_nginx_slice_cache": False}
    retired = _run_role_tasks("slice_cache.yml", off, tmp_path)
    assert retired.returncode == 0, retired.stdout
    assert not folder.exists(), "switching the cache off deletes the cached reads"

    # A folder without the role's mark (an operator's own) is never deleted.
    folder.mkdir()
    (folder / "keep").write_text("not the role's")
    left = _run_role_tasks("slice_cache.yml", {**off, "seqr_s3_state": "absent"}, tmp_path)
    assert left.returncode == 0, left.stdout
    assert (folder / "keep").exists()


def _wheel() -> dict:
    """validate.yml checks the package wheel (and SEQR_S3 with its validator) before the slice cache."""
    return {"seqr_s3_package_wheel": str(built_wheel())}


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"seqr_s3_mode": "proxy", "seqr_s3_nginx_slice_cache": True}, "seqr_s3_mode is proxy"),
        ({"seqr_s3_nginx_slice_cache_path": "/var/../srv"}, "no . or .. parts"),
        ({"seqr_s3_nginx_slice_cache_path": "/cache"}, "at least two levels deep"),
        ({"seqr_s3_nginx_slice_cache_valid": "forever"}, "inactive and valid like 1d"),
    ],
    ids=["proxy-mode", "dot-dot", "one-level", "bad-validity"],
)
def test_role_refuses_the_cache_outside_accel_and_bad_values(
    variables: dict, said: str, tmp_path: Path
) -> None:
    refused = _run_role_tasks("validate.yml", {**_wheel(), **variables}, tmp_path)
    assert refused.returncode != 0
    assert "Check the slice cache settings" in refused.stdout
    assert said in refused.stdout


def test_role_accepts_the_cache_in_accel_mode(tmp_path: Path) -> None:
    """The control: with good values the slice cache check passes (a later check fails on this machine,
    which is no seqr host)."""
    done = _run_role_tasks("validate.yml", {**_wheel(), "seqr_s3_nginx_slice_cache": True}, tmp_path)
    assert "Check the slice cache settings" in done.stdout
    assert "works only in accel mode" not in done.stdout
