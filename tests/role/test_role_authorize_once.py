"""The role's authorize-once option (seqr_s3_nginx_authorize_ttl): what the site renders, the real `nginx -t`,
the settings the role refuses, and the role tasks that create and retire the grants' folder. Its behaviour
through nginx, gunicorn and SeaweedFS: python/tests/integration/test_authorize_once.py."""

from __future__ import annotations

import pwd
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from role_play import SeqrStandinHost, changed_count, run_role
from role_render import built_wheel, nginx_test, render_template, role_variables

ON = {"seqr_s3_nginx_authorize_ttl": 5, "seqr_s3_nginx_session_cookie_name": "seqr_session_x"}


def directives(site: str) -> list[str]:
    return [line.strip() for line in site.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_ttl_zero_and_other_modes_render_no_authorization(mode: str) -> None:
    """0 is today's site (a seqr request per range); proxy and redirect modes never get the option."""
    zero = render_template(
        "nginx_site.conf.j2", {**ON, "seqr_s3_mode": mode, "seqr_s3_nginx_authorize_ttl": 0}
    )
    assert "auth_request" not in zero and "X-Seqr-S3-Authorize" not in zero and "proxy_cache_path" not in zero
    if mode != "accel":
        assert render_template("nginx_site.conf.j2", {**ON, "seqr_s3_mode": mode}) == zero
        assert render_template("nginx_site.conf.j2", {"seqr_s3_mode": mode}) == zero


def test_authorize_once_is_on_by_default_in_accel_mode() -> None:
    """The role's default: a few seconds (defaults/main.yml and the argument spec agree), rendered in accel,
    keyed on the cookie the role reads from seqr's settings (Django's name when settings.py sets none)."""
    default = role_variables()["seqr_s3_nginx_authorize_ttl"]
    assert 0 < default <= 10
    site = directives(render_template("nginx_site.conf.j2", {"seqr_s3_mode": "accel"}))
    assert f"proxy_cache_valid 200 {default}s;" in site
    assert f'proxy_set_header X-Seqr-S3-Authorize "{default}";' in site
    assert 'proxy_cache_key "$host $cookie_sessionid $request_uri";' in site


def test_grants_are_keyed_by_the_whole_session_cookie_and_uri_and_only_grants_kept() -> None:
    site = directives(render_template("nginx_site.conf.j2", ON))
    assert 'proxy_cache_key "$host $cookie_seqr_session_x $request_uri";' in site
    assert "map $cookie_seqr_session_x $seqr_s3_no_session {" in site
    assert "proxy_no_cache $seqr_s3_no_session $seqr_s3_session_twice $seqr_s3_not_a_grant;" in site
    assert "proxy_cache_bypass $seqr_s3_no_session $seqr_s3_session_twice;" in site
    assert [line for line in site if line.startswith("proxy_cache_valid")] == ["proxy_cache_valid 200 5s;"]
    assert 'proxy_set_header X-Seqr-S3-Authorize "5";' in site
    # Every other way to seqr replaces a client's X-Seqr-S3-Authorize.
    assert site.count('proxy_set_header X-Seqr-S3-Authorize "";') == 1
    # The per-request way, and the second question after a failed fetch: seqr asks its database both times.
    assert site.count('proxy_set_header X-Seqr-S3-Authorize "per-request";') == 2


@pytest.mark.parametrize(
    "extra",
    [{}, {"seqr_s3_nginx_s3_keepalive_servers": ["127.0.0.1:8333"]}, {"seqr_s3_nginx_slice_cache": True}],
    ids=["url-per-request", "keepalive-pool", "with-slice-cache"],
)
def test_nginx_accepts_authorize_once(extra: dict, tmp_path: Path) -> None:
    folders = {
        "seqr_s3_nginx_authorize_cache_path": str(tmp_path / "grants"),
        "seqr_s3_nginx_slice_cache_path": str(tmp_path / "slices"),
        "seqr_s3_nginx_resolvers": ["127.0.0.1"],
    }
    (tmp_path / "slices").mkdir()
    site = render_template("nginx_site.conf.j2", {**ON, **folders, **extra})
    checked = nginx_test(site, tmp_path / "nginx")
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "grants").is_dir()
    assert (tmp_path / "grants").stat().st_mode & 0o077 == 0, "nginx makes the grants' folder 0700"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"seqr_s3_nginx_authorize_ttl": 61}, "from 0 to 60"),
        ({"seqr_s3_nginx_authorize_ttl": 40, "seqr_s3_presign_expiry": 100}, "a third of seqr_s3_presign"),
        ({"seqr_s3_nginx_authorize_cache_path": "/var/cache/seqr_s3_nginx/g"}, "apart from the slice cache"),
        ({"seqr_s3_nginx_slice_cache_path": "/run/seqr_s3_nginx_authorize/s"}, "apart from the slice cache"),
        ({"seqr_s3_nginx_session_cookie_name": "a b"}, "cookie name"),
    ],
)
def test_the_role_refuses_unsafe_settings(variables: dict, named: str, tmp_path: Path) -> None:
    # validate.yml checks the package wheel (and SEQR_S3 with its validator) before these settings.
    done = run_role({"seqr_s3_package_wheel": str(built_wheel()), **variables}, tmp_path, "validate")
    assert done.returncode != 0
    assert named in done.stdout.replace("\n", " ")


AWS_PATH = {"seqr_s3_endpoint_url": "", "seqr_s3_addressing_style": "path"}


@pytest.mark.parametrize(
    ("variables", "pool"),
    [
        ({"seqr_s3_endpoint_url": "http://127.0.0.1:8333"}, "127.0.0.1:8333"),
        ({"seqr_s3_endpoint_url": "https://s3.example.org"}, "s3.example.org:443"),
        ({"seqr_s3_endpoint_url": "https://[::1]:9000/"}, "[::1]:9000"),
        ({**AWS_PATH, "seqr_s3_region": "eu-west-1"}, "s3.eu-west-1.amazonaws.com:443"),
        ({**AWS_PATH, "seqr_s3_region": "us-gov-west-1"}, "s3.us-gov-west-1.amazonaws.com:443"),
        ({**AWS_PATH, "seqr_s3_region": "cn-north-1"}, "s3.cn-north-1.amazonaws.com.cn:443"),
        ({**AWS_PATH, "seqr_s3_region": "us-east-1"}, None),
        ({**AWS_PATH, "seqr_s3_region": "eu-isoe-west-1"}, None),
        ({**AWS_PATH, "seqr_s3_region": ""}, None),
        ({"seqr_s3_endpoint_url": "", "seqr_s3_region": "eu-west-1"}, None),
        (
            {
                "seqr_s3_endpoint_url": "",
                "seqr_s3_addressing_style": "virtual",
                "seqr_s3_region": "eu-west-1",
            },
            None,
        ),
    ],
    ids=[
        "custom-port",
        "custom-https",
        "ipv6",
        "aws-path-regional",
        "aws-path-gov",
        "aws-path-china",
        "aws-path-us-east-1-per-url",
        "aws-other-partition-per-url",
        "aws-path-no-region-per-url",
        "aws-auto-per-url",
        "aws-virtual-per-url",
    ],
)
@pytest.mark.parametrize("ttl", [5, 0], ids=["authorize-once", "ttl-0"])
def test_a_fixed_endpoint_gets_the_keepalive_pool(variables: dict, pool: str | None, ttl: int) -> None:
    """Every presigned URL names one host (a custom endpoint, AWS path style in a region): nginx pools
    keep-alive connections to it by default, with or without authorize once; virtual-hosted AWS buckets (and
    regions whose host botocore may name otherwise) connect per presigned URL."""
    overrides = {**ON, **variables, "seqr_s3_nginx_authorize_ttl": ttl}
    site = directives(render_template("nginx_site.conf.j2", overrides))
    if pool:
        assert site[site.index("upstream seqr_s3_store {") + 1] == f"server {pool};"
        assert "proxy_pass $seqr_s3_signed_url;" not in site
    else:
        assert "upstream seqr_s3_store {" not in site
        assert "proxy_pass $seqr_s3_signed_url;" in site
    switched_off = {**overrides, "seqr_s3_nginx_s3_keepalive_pool": False}
    assert "upstream seqr_s3_store {" not in render_template("nginx_site.conf.j2", switched_off)
    for mode in ("proxy", "redirect"):
        assert "seqr_s3_store" not in render_template(
            "nginx_site.conf.j2", {**overrides, "seqr_s3_mode": mode}
        )


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-2"])
def test_the_aws_pool_is_the_host_botocore_signs(region: str) -> None:
    """The pooled host is the one botocore's presigned URLs name (path style, no endpoint): nginx sends each
    request to the pool with the signed Host, so they must be the same host."""
    session = boto3.session.Session(
        region_name=region, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x"
    )
    client = session.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "a.bucket", "Key": "x.bam"}, ExpiresIn=60
    )
    site = directives(render_template("nginx_site.conf.j2", {**AWS_PATH, "seqr_s3_region": region}))
    assert site[site.index("upstream seqr_s3_store {") + 1] == f"server {url.split('/')[2]}:443;"


# --- The role's tasks for the grants' folder, run on this machine by ansible-playbook -----------------------

MARK = ".seqr_s3_authorize_cache"


def _grants_vars(folder: Path, **overrides: object) -> dict:
    return {
        "seqr_s3_nginx_authorize_cache_path": str(folder),
        "__seqr_s3_nginx_user": "www-data",
        **overrides,
    }


def _leave_a_grant(folder: Path) -> None:
    """What nginx keeps there: a grant (it holds a presigned URL) two levels down."""
    (folder / "a" / "bc").mkdir(parents=True, exist_ok=True)
    (folder / "a" / "bc" / "grant").write_text("X-Seqr-S3-Url: https://s3.example/b/k?X-Amz-Signature=s")


# The role chowns the folder to nginx's user, which only root can do; CI (.ci/run, `make test`) runs as root.
@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize(
    "unused",
    [{"seqr_s3_nginx_authorize_ttl": 0}, {"seqr_s3_mode": "proxy"}, {"seqr_s3_state": "absent"}],
    ids=["ttl-0", "proxy-mode", "removed"],
)
def test_role_creates_marks_and_retires_the_grants_folder(unused: dict, tmp_path: Path) -> None:
    folder = tmp_path / "run" / "seqr_s3_nginx_authorize"
    folder.parent.mkdir()
    on = _grants_vars(folder)
    checked = run_role(on, tmp_path, "authorize_cache", "--check")
    assert checked.returncode == 0, checked.stdout
    assert not folder.exists(), "check mode creates nothing"

    created = run_role(on, tmp_path, "authorize_cache")
    assert created.returncode == 0, created.stdout
    www_data = pwd.getpwnam("www-data").pw_uid
    for made in (folder, folder / MARK):
        assert (made.stat().st_uid, made.stat().st_mode & 0o777) == (www_data, 0o700), made
    again = run_role(on, tmp_path, "authorize_cache")
    assert changed_count(again.stdout) == 0, again.stdout

    _leave_a_grant(folder)
    off = {**on, **unused}
    checked_off = run_role(off, tmp_path, "authorize_cache", "--check")
    assert checked_off.returncode == 0, checked_off.stdout
    assert (folder / "a" / "bc" / "grant").exists(), "check mode deletes nothing"
    retired = run_role(off, tmp_path, "authorize_cache")
    assert retired.returncode == 0, retired.stdout
    assert not folder.exists(), "the grants (presigned URLs) go with the folder the role made"
    gone = run_role(off, tmp_path, "authorize_cache")
    assert (gone.returncode, changed_count(gone.stdout)) == (0, 0), gone.stdout


@pytest.mark.parametrize(
    "unused", [{"seqr_s3_nginx_authorize_ttl": 0}, {"seqr_s3_state": "absent"}], ids=["ttl-0", "removed"]
)
def test_role_never_deletes_a_grants_folder_without_its_mark(unused: dict, tmp_path: Path) -> None:
    """A folder the role did not make (an operator's own at that path) stays, whatever is in it."""
    folder = tmp_path / "operators_own"
    folder.mkdir()
    (folder / "keep").write_text("not the role's")
    _leave_a_grant(folder)
    left = run_role(_grants_vars(folder, **unused), tmp_path, "authorize_cache")
    assert left.returncode == 0, left.stdout
    assert (folder / "keep").exists() and (folder / "a" / "bc" / "grant").exists()
    assert changed_count(left.stdout) == 0, left.stdout


@pytest.mark.usefixtures("as_root")
def test_removal_deletes_the_grants_folder_the_role_made(tmp_path: Path) -> None:
    """remove_nginx.yml (seqr_s3_state: absent) retires the grants' folder as it does the slice cache's."""
    host = SeqrStandinHost(tmp_path / "host")
    folder = tmp_path / "run_seqr_s3_nginx_authorize"
    # As the role leaves it on a host: nginx's user's folder with the role's mark, holding grants.
    (folder / MARK).mkdir(parents=True)
    for made in (folder, folder / MARK):
        shutil.chown(made, "www-data")
        made.chmod(0o700)
    _leave_a_grant(folder)
    variables = host.variables(seqr_s3_nginx_authorize_cache_path=str(folder))
    removed = run_role({**variables, "seqr_s3_state": "absent"}, tmp_path, "remove_nginx")
    assert removed.returncode == 0, removed.stdout
    assert not folder.exists()


def _folder_of(folder: Path, user: str, mode: int, *files: str) -> Path:
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    folder.mkdir(exist_ok=True)
    shutil.chown(folder, user)
    folder.chmod(mode)
    return folder


@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize(
    ("user", "mode", "files"),
    [("root", 0o755, ()), ("www-data", 0o700, ("keep",)), ("www-data", 0o700, ("a/bc/grant", "notes/x"))],
    ids=["someone-elses", "with-a-file-of-its-own", "with-a-folder-of-its-own"],
)
def test_role_refuses_a_grants_folder_it_did_not_make(
    user: str, mode: int, files: tuple, tmp_path: Path
) -> None:
    host = SeqrStandinHost(tmp_path / "host")
    folder = _folder_of(tmp_path / "grants", user, mode, *files)
    variables = host.variables(seqr_s3_nginx_authorize_cache_path=str(folder))
    refused = run_role(variables, tmp_path, "validate")
    assert refused.returncode != 0
    assert "was not created by the seqr_s3 role" in refused.stdout.replace("\n", " ")


@pytest.mark.usefixtures("as_root")
@pytest.mark.parametrize("files", [(), ("a/bc/grant",)], ids=["empty-after-reboot", "unmarked-with-grants"])
def test_role_takes_over_nginxs_own_grants_folder(files: tuple, tmp_path: Path) -> None:
    """nginx makes a missing grants' folder itself at start (a reboot empties /run), and an earlier role made
    it without a mark: the role accepts that folder, marks it, and so deletes it later."""
    host = SeqrStandinHost(tmp_path / "host")
    folder = _folder_of(tmp_path / "grants", "www-data", 0o700, *files)
    variables = host.variables(seqr_s3_nginx_authorize_cache_path=str(folder))
    # validate.yml alone stops at a later check on this machine (no IGV style table loaded): this one passed.
    validated = run_role(variables, tmp_path, "validate").stdout
    check = validated.index("Check that the grants' folder is new, the role's own, or nginx's cache")
    assert validated[check:].split("\n")[1].startswith("ok: [localhost]"), validated[check:]
    marked = run_role(variables, tmp_path, "authorize_cache")
    assert marked.returncode == 0, marked.stdout
    assert (folder / MARK).is_dir()
    retired = run_role({**variables, "seqr_s3_nginx_authorize_ttl": 0}, tmp_path, "authorize_cache")
    assert retired.returncode == 0, retired.stdout
    assert not folder.exists()
