"""The benchmark's stack on loopback, built only from real parts and the shared fixtures (tests/fixtures).

One SeaweedFS (SigV4 enforced) holds a large random object and a real BAM + .bai. One seeded SQLite database
and one Django secret key are shared by three gunicorns of the seqr stand-in with seqr_s3 installed, one per
mode (accel, proxy, redirect), so a single login works against all of them. Each gunicorn sits behind its own
nginx running the role's site template rendered for that mode. The old-approach baseline is an extra route of
the bench settings module (bench/baseline), served by the proxy gunicorn; nginx serves the same large file
from disk under /static/ as this machine's ceiling; "direct" is a presigned URL straight to SeaweedFS.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / "tests"
BASELINE_DIR = Path(__file__).resolve().parent / "baseline"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from fixtures.nginx import NginxServer, start_nginx  # noqa: E402  (tests/ must be on sys.path first)
from fixtures.reads import large_file_range, make_reads, write_large_file  # noqa: E402
from fixtures.seaweed import SeaweedS3, free_loopback_ports, start_seaweed  # noqa: E402
from fixtures.standin import (  # noqa: E402
    STANDIN_DIR,
    StandinServer,
    login_session,
    prepare_database,
    session_cookie_name,
    standin_env,
    start_standin,
    write_accel_secret,
    write_aws_files,
)

BUCKET = "bench-reads"
PREFIX = "reads/"
PROJECT = "R0001_bench"
LARGE_KEY = f"{PREFIX}large_random.bam"
BAM_KEY = f"{PREFIX}sample.bam"
BAI_KEY = f"{PREFIX}sample.bam.bai"
MODES = ("accel", "proxy", "redirect")
# The accel gunicorn behind a second nginx: the same role site with the optional slice cache switched on.
CACHE_VARIANT = "accel+cache"
# The accel gunicorn behind a third nginx with authorize once on (seqr_s3_nginx_authorize_ttl): seqr is asked
# once per session and track for this many seconds (the prototype kept its grants 10 s).
AUTHORIZE_VARIANT = "accel+authorize"
AUTHORIZE_TTL = 10
# The role's default slice size (seqr_s3_nginx_slice_cache_slice_size: 1m): cold reads are placed by it.
SLICE_BYTES = 1 << 20
# Presigned URLs for the "direct" variant must outlive a full run.
DIRECT_URL_EXPIRY = 6 * 3600
# gunicorn logs, per request, the time the worker was busy with it (µs, after the last body byte was sent)
# and the worker's pid.
ACCESS_LOG_FORMAT = "%(m)s\t%(U)s\t%(s)s\t%(D)s\t%(p)s"
OLD_APPROACH_ROUTE = "/api/bench_old_approach/project"
# nginx logs, per request, its own timings (s, ms resolution). In accel mode one line covers both hops: the
# $upstream_* variables hold "app : S3" (nginx joins the upstreams of an X-Accel-Redirect with " : ").
NGINX_TIMING_FIELDS = (
    "$request_uri",
    "$status",
    "$request_time",
    "$upstream_addr",
    "$upstream_connect_time",
    "$upstream_header_time",
    "$upstream_response_time",
    "$upstream_status",
    "$connection_requests",
)
NGINX_TIMING_LOG = "timing.log"
NGINX_WORKER_USER, NGINX_WORKER_GROUP = "nobody", "nogroup"
# Re-exported for workloads.py: the byte check and where the stand-in lives.
__all__ = ["STANDIN_DIR", "BenchStack", "Sizes", "bench_stack", "large_file_range"]


@dataclass(frozen=True)
class Sizes:
    """Object and request sizes of one run (the smoke run uses tiny ones)."""

    large_object: int
    big_range: int
    small_range: int
    bam_reads: int


FULL_SIZES = Sizes(large_object=256 << 20, big_range=64 << 20, small_range=64 << 10, bam_reads=200_000)
SMOKE_SIZES = Sizes(large_object=6 << 20, big_range=2 << 20, small_range=64 << 10, bam_reads=4000)


@dataclass
class ModeStack:
    """One serving mode: its gunicorn, the nginx in front of it, gunicorn's access log and nginx's timings."""

    mode: str
    standin: StandinServer
    nginx: NginxServer
    access_log: Path

    @property
    def timing_log(self) -> Path:
        return self.nginx.prefix / NGINX_TIMING_LOG


def nginx_timing_directives(prefix: Path) -> str:
    """The http-block lines that make nginx write NGINX_TIMING_LOG (tab-separated NGINX_TIMING_FIELDS)."""
    fields = "\\t".join(NGINX_TIMING_FIELDS)
    return (
        f"    log_format seqr_s3_bench_timing '{fields}';\n"
        f"    access_log {prefix / NGINX_TIMING_LOG} seqr_s3_bench_timing;\n"
    )


@dataclass
class BenchStack:
    """Everything a variant needs to build its URLs, plus the servers to stop."""

    sizes: Sizes
    workdir: Path
    s3: SeaweedS3
    modes: dict[str, ModeStack]
    cookie_header: str = field(repr=False)
    large_local: Path
    bam_local: Path
    bai_local: Path
    object_sizes: dict[str, int]
    slice_cache_dir: Path

    def empty_slice_cache(self) -> None:
        """Delete every cached slice of the accel+cache nginx: its next reads of them go to S3 (nginx treats a
        key whose file is gone as a miss)."""
        for cached in self._cached_files():
            cached.unlink()

    def count_cached_slices(self) -> int:
        return len(self._cached_files())

    def _cached_files(self) -> list[Path]:
        return [path for path in (self.slice_cache_dir / "slices").rglob("*") if path.is_file()]

    def track_url(self, mode: str, key: str) -> str:
        """seqr's IGV track URL for an s3:// key, encoded as seqr's UI encodes it."""
        encoded = quote(f"s3://{BUCKET}/{key}", safe="")
        return f"{self.modes[mode].nginx.base_url}/api/project/{PROJECT}/igv_track/{encoded}"

    def old_approach_url(self, key: str) -> str:
        encoded = quote(f"s3://{BUCKET}/{key}", safe="")
        return f"{self.modes['proxy'].nginx.base_url}{OLD_APPROACH_ROUTE}/{PROJECT}/igv_track/{encoded}"

    def direct_url(self, key: str) -> str:
        """A presigned GET straight to SeaweedFS with seqr's read-only key (the limit for any proxy)."""
        client = self.s3.client(self.s3.reader)
        return client.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=DIRECT_URL_EXPIRY
        )

    def disk_url(self, key: str) -> str:
        """The same bytes as file on disk, served by nginx's /static/ location (accel nginx)."""
        return f"{self.modes['accel'].nginx.base_url}/static/{Path(key).name}"

    def ordinary_url(self, mode: str) -> str:
        """An ordinary seqr page request (Django, sessions, CSRF and CSP middleware) through nginx."""
        return f"{self.modes[mode].nginx.base_url}/"


def _seed(password: str) -> dict:
    files = (("large", LARGE_KEY, None), ("bam", BAM_KEY, BAI_KEY))
    return {
        "users": [{"username": "bench", "email": "bench@example.org", "password": password}],
        "projects": [{"guid": PROJECT, "name": "Benchmark", "collaborators": ["bench"]}],
        "families": [{"guid": "F_bench", "project": PROJECT, "family_id": "bench_family"}],
        "individuals": [
            {"guid": f"I_{name}", "family": "F_bench", "individual_id": name} for name, _, _ in files
        ],
        "igv_samples": [
            {
                "guid": f"S_{name}",
                "individual": f"I_{name}",
                "sample_type": "alignment",
                "file_path": f"s3://{BUCKET}/{key}",
                "index_file_path": f"s3://{BUCKET}/{index}" if index else None,
            }
            for name, key, index in files
        ],
    }


def _upload(s3: SeaweedS3, files: dict[str, Path]) -> dict[str, int]:
    client = s3.client()
    client.create_bucket(Bucket=BUCKET)
    for key, local in files.items():
        client.upload_file(str(local), BUCKET, key)
    return {key: local.stat().st_size for key, local in files.items()}


@contextlib.contextmanager
def bench_stack(
    workdir: Path,
    sizes: Sizes,
    workers: int,
    package_src: Path | None = None,
    role_overrides: dict[str, str] | None = None,
) -> Iterator[BenchStack]:
    """Build the whole stack under ``workdir`` and always tear it down (servers stopped in reverse order).

    ``package_src``: a folder holding another ``seqr_s3`` package (e.g. the ``src`` folder of an older
    commit's copy) that the gunicorns import instead of the installed one, for before/after comparisons.
    ``role_overrides``: role variables for every nginx site (e.g. the role's earlier buffer sizes).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # nginx's workers run as nobody and must reach /static/ (mkdtemp makes 0700); secrets inside stay 0600.
    workdir.chmod(0o755)
    with contextlib.ExitStack() as cleanup:
        reads = make_reads(workdir / "reads", read_count=sizes.bam_reads)
        # nginx's /static/ root lives in its prefix; the large file is written there once and uploaded as is.
        static_dirs = {mode: workdir / f"nginx_{mode}" / "static" for mode in MODES}
        for static_dir in static_dirs.values():
            static_dir.mkdir(parents=True, exist_ok=True)
        large_local = write_large_file(static_dirs["accel"] / Path(LARGE_KEY).name, sizes.large_object)
        for read_file in (reads.bam, reads.bam_bai):
            shutil.copyfile(read_file, static_dirs["accel"] / read_file.name)

        s3 = start_seaweed(workdir / "seaweed")
        cleanup.callback(s3.stop)
        object_sizes = _upload(s3, {LARGE_KEY: large_local, BAM_KEY: reads.bam, BAI_KEY: reads.bam_bai})

        password = secrets.token_urlsafe(16)
        aws_files = write_aws_files(workdir / "aws", s3.reader.access_key, s3.reader.secret_key, s3.region)
        shared_key = secrets.token_urlsafe(40)
        db_path = workdir / "db.sqlite3"
        modes: dict[str, ModeStack] = {}
        for mode in MODES:
            access_log = workdir / f"gunicorn_{mode}_access.log"
            secret_file = write_accel_secret(workdir / f"accel_secret_{mode}")
            config = {
                "ACCEL_SECRET_FILE": str(secret_file),
                "MODE": mode,
                "ALLOWED_PREFIXES": [f"s3://{BUCKET}/{PREFIX}"],
                "ENDPOINT_URL": s3.endpoint_url,
                "ADDRESSING_STYLE": "path",
                "REGION": s3.region,
            }
            env = standin_env(
                db_path=db_path, settings_module="bench_settings", seqr_s3_config=config, aws_files=aws_files
            )
            env["DJANGO_KEY"] = shared_key  # one session cookie valid on every gunicorn
            first = [str(package_src)] if package_src else []
            env["PYTHONPATH"] = os.pathsep.join([*first, str(BASELINE_DIR), env["PYTHONPATH"]])
            log_args = f"--access-logfile {shlex.quote(str(access_log))} --access-logformat "
            env["GUNICORN_CMD_ARGS"] = log_args + shlex.quote(ACCESS_LOG_FORMAT)
            if not modes:
                prepare_database(env, _seed(password), workdir)
            standin = start_standin(workdir / f"gunicorn_{mode}", env, workers=workers)
            cleanup.callback(standin.stop)
            role_vars = {"seqr_s3_mode": mode, "seqr_s3_endpoint_url": s3.endpoint_url}
            if mode == "accel":
                # The role's keep-alive pool to one fixed S3 endpoint (what a host with one store sets).
                role_vars["seqr_s3_nginx_s3_keepalive_servers"] = [urlsplit(s3.endpoint_url).netloc]
                # "accel" (and its slice cache) is the per-request way, one seqr request per range; authorize
                # once (the role's default) is the variant beside it.
                role_vars["seqr_s3_nginx_authorize_ttl"] = 0
            role_vars.update(role_overrides or {})
            nginx_prefix = workdir / f"nginx_{mode}"
            nginx = start_nginx(
                nginx_prefix,
                standin.bind,
                free_loopback_ports(1)[0],
                role_vars,
                http_extra=nginx_timing_directives(nginx_prefix),
                accel_secret=secret_file.read_text().strip(),
            )
            cleanup.callback(nginx.stop)
            modes[mode] = ModeStack(mode=mode, standin=standin, nginx=nginx, access_log=access_log)
            if mode == "accel":
                slice_cache_dir = workdir / "slice_cache"
                cached_nginx = _start_cache_nginx(
                    workdir, standin.bind, role_vars, slice_cache_dir, secret_file.read_text().strip()
                )
                cleanup.callback(cached_nginx.stop)
                modes[CACHE_VARIANT] = ModeStack(CACHE_VARIANT, standin, cached_nginx, access_log)
                authorizing_nginx = _start_authorize_nginx(
                    workdir, standin, role_vars, secret_file.read_text().strip()
                )
                cleanup.callback(authorizing_nginx.stop)
                modes[AUTHORIZE_VARIANT] = ModeStack(
                    AUTHORIZE_VARIANT, standin, authorizing_nginx, access_log
                )

        session = login_session(modes["accel"].nginx.base_url, "bench@example.org", password)
        cookie_header = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        yield BenchStack(
            sizes=sizes,
            workdir=workdir,
            s3=s3,
            modes=modes,
            cookie_header=cookie_header,
            large_local=large_local,
            bam_local=reads.bam,
            bai_local=reads.bam_bai,
            object_sizes=object_sizes,
            slice_cache_dir=slice_cache_dir,
        )


def _start_cache_nginx(
    workdir: Path, app_upstream: str, accel_role_vars: dict, slice_cache_dir: Path, accel_secret: str
) -> NginxServer:
    """The accel site again, with the role's slice cache on; its folder as the role makes it: 0700, owned by
    the user nginx's workers run as (nobody here, where nginx starts as root without a user line)."""
    slice_cache_dir.mkdir(mode=0o700)
    shutil.chown(slice_cache_dir, NGINX_WORKER_USER, NGINX_WORKER_GROUP)
    prefix = workdir / "nginx_accel_cache"
    return start_nginx(
        prefix,
        app_upstream,
        free_loopback_ports(1)[0],
        {
            **accel_role_vars,
            "seqr_s3_nginx_slice_cache": True,
            "seqr_s3_nginx_slice_cache_path": str(slice_cache_dir),
        },
        http_extra=nginx_timing_directives(prefix),
        accel_secret=accel_secret,
    )


def _start_authorize_nginx(
    workdir: Path, standin: StandinServer, accel_role_vars: dict, accel_secret: str
) -> NginxServer:
    """The accel site again, with authorize once on: its grants' folder as the role makes it (0700, nginx's
    workers' user), the session cookie's name read from the stand-in's settings as the role reads seqr's."""
    grants_dir = workdir / "authorize_cache"
    grants_dir.mkdir(mode=0o700)
    shutil.chown(grants_dir, NGINX_WORKER_USER, NGINX_WORKER_GROUP)
    cookie_name = session_cookie_name(standin.env)
    prefix = workdir / "nginx_accel_authorize"
    return start_nginx(
        prefix,
        standin.bind,
        free_loopback_ports(1)[0],
        {
            **accel_role_vars,
            "seqr_s3_nginx_authorize_ttl": AUTHORIZE_TTL,
            "seqr_s3_nginx_authorize_cache_path": str(grants_dir),
            "seqr_s3_nginx_session_cookie_name": cookie_name,
        },
        http_extra=nginx_timing_directives(prefix),
        accel_secret=accel_secret,
    )


def remove_workdir(workdir: Path) -> None:
    """Delete a finished run's data (hundreds of MiB in a full run)."""
    shutil.rmtree(workdir, ignore_errors=True)
