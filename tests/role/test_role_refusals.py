"""The whole role, run by ansible-playbook on this machine, refuses bad values and folders it does not own
before anything changes (issue 13, items 3 and 4).

Each run goes against a seqr stand-in laid out in a temp folder (tests/role/role_play.py); "nothing changed"
means the checkout, the folder in question and the role's own folder are byte for byte as before, and seqr
was not restarted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from role_play import SeqrStandinHost, run_role, tree_listing

pytestmark = pytest.mark.usefixtures("as_root")  # the role runs as root on a seqr host


# Should a bad value ever get past validation, the run still stops at the whole-configuration nginx -t (the
# role's site defines this upstream too) in the temp folder, before nginx is started or reloaded here.
STOP_AT_NGINX = "    upstream seqr_s3_app { server 127.0.0.1:9; }\n"


def _host(tmp_path: Path) -> SeqrStandinHost:
    host = SeqrStandinHost(tmp_path)
    host.write_nginx_conf(STOP_AT_NGINX)
    return host


def _snapshot(*folders: Path) -> dict[str, object]:
    """Listing, owner and mode of each folder (and everything in it); absent folders as None."""
    state: dict[str, object] = {}
    for folder in folders:
        if folder.exists():
            status = folder.stat()
            state[str(folder)] = (status.st_uid, status.st_mode, tree_listing(folder))
        else:
            state[str(folder)] = None
    return state


def _unchanged(host: SeqrStandinHost, before: dict[str, object], *folders: Path) -> None:
    assert _snapshot(host.checkout, host.home, host.aws_dir, host.sites_available, *folders) == before
    assert not host.restarted.exists(), "seqr was restarted"


def _foreign_folder(path: Path) -> Path:
    """An operator's folder with files in it, owned by someone else and not private."""
    (path / "data").mkdir(parents=True)
    (path / "data" / "keep.txt").write_text("not the role's\n")
    (path / "notes").write_text("mine\n")
    os.chown(path, 1, 1)
    path.chmod(0o750)
    return path


# --- Item 3: folders the role did not create ---------------------------------------------------------------


def test_existing_home_without_the_roles_mark_is_refused_and_left_alone(tmp_path: Path) -> None:
    host = _host(tmp_path)
    foreign = _foreign_folder(tmp_path / "srv" / "operators_folder")
    before = _snapshot(host.checkout, host.home, host.aws_dir, host.sites_available, foreign)
    for state in ("present", "absent"):
        refused = run_role(host.variables(seqr_s3_home=str(foreign), seqr_s3_state=state), tmp_path)
        assert refused.returncode != 0
        assert "Check that seqr_s3_home is new or the role's own" in refused.stdout
        assert f"seqr_s3_home {foreign} exists but was not created by the seqr_s3 role" in refused.stdout
        _unchanged(host, before, foreign)


def test_existing_slice_cache_folder_without_the_mark_is_refused_and_left_alone(tmp_path: Path) -> None:
    """The cache would hand its folder to nginx's user (0700) and delete it when switched off: /var/cache or a
    home folder given by mistake must be refused before either happens."""
    host = _host(tmp_path)
    foreign = _foreign_folder(tmp_path / "var" / "cache")
    before = _snapshot(host.checkout, host.home, host.aws_dir, host.sites_available, foreign)
    cache_on = {"seqr_s3_nginx_slice_cache": True, "seqr_s3_nginx_slice_cache_path": str(foreign)}
    refused = run_role(host.variables(**cache_on), tmp_path)
    assert refused.returncode != 0
    assert "Check that the slice cache folder is new or the role's own" in refused.stdout
    assert f"seqr_s3_nginx_slice_cache_path {foreign} exists but was not created" in refused.stdout
    _unchanged(host, before, foreign)


def _top_level(folder: Path) -> tuple[int, int, list[str]]:
    status = folder.stat()
    return status.st_uid, status.st_mode, sorted(entry.name for entry in folder.iterdir())


@pytest.mark.parametrize("path", ["/var/cache", "/usr/share"])
def test_system_folders_are_refused_as_slice_cache(path: str, tmp_path: Path) -> None:
    """The literal folders of the issue, through validate.yml only (which changes nothing by itself)."""
    before = _top_level(Path(path))
    refused = run_role(
        {"seqr_s3_nginx_slice_cache": True, "seqr_s3_nginx_slice_cache_path": path}, tmp_path, "validate"
    )
    assert refused.returncode != 0
    assert (
        f"seqr_s3_nginx_slice_cache_path {path} exists but was not created by the seqr_s3 role"
        in refused.stdout
    )
    assert _top_level(Path(path)) == before


def test_home_inside_the_seqr_checkout_is_refused(tmp_path: Path) -> None:
    host = _host(tmp_path)
    before = _snapshot(host.checkout, host.home, host.aws_dir, host.sites_available)
    refused = run_role(host.variables(seqr_s3_home=str(host.checkout / "seqr_s3")), tmp_path)
    assert refused.returncode != 0
    assert "must be a folder of its own outside seqr's checkout" in refused.stdout
    _unchanged(host, before)


# --- Item 4: every value that lands in a file -------------------------------------------------------------

INJECTION = "\ncredential_process = /bin/sh -c id"

BAD_VALUES = [
    ("seqr_s3_region", "eu-west-1" + INJECTION, "SEQR_S3['REGION'] must be one name"),
    ("seqr_s3_aws_profile", "seqr_s3]\n[default", "SEQR_S3['PROFILE'] must be one name"),
    (
        "seqr_s3_endpoint_url",
        "http://s3.local" + INJECTION,
        "SEQR_S3['ENDPOINT_URL'] must not contain whitespace",
    ),
    ("seqr_s3_presign_expiry", 0, "SEQR_S3['PRESIGN_EXPIRY'] must be between 1 and 604800; got 0"),
    ("seqr_s3_chunk_size", 64 * 1024 * 1024 + 1, "SEQR_S3['CHUNK_SIZE'] must be between 1 and 67108864"),
    ("seqr_s3_read_timeout", 0, "SEQR_S3['READ_TIMEOUT'] must be between"),
    ("seqr_s3_allowed_prefixes", ["s3://reads/project-a"], "must end with '/' (a folder)"),
    ("seqr_s3_allowed_prefixes", ["s3://Bad_Bucket/"], "bucket name 'Bad_Bucket'"),
    ("seqr_s3_home", "/opt/../etc", "seqr_s3_home must be an absolute folder of the role's own"),
    (
        "seqr_s3_aws_role_session_name",
        "seqr" + INJECTION,
        "seqr_s3_aws_role_session_name must be 2-64 characters",
    ),
    (
        "seqr_s3_aws_role_external_id",
        "id" + INJECTION,
        "seqr_s3_aws_role_external_id must be empty or 2-1224",
    ),
    (
        "seqr_s3_aws_role_arn",
        "arn:aws:iam::123456789012:role/r" + INJECTION,
        "seqr_s3_aws_role_arn must be empty or",
    ),
    (
        "seqr_s3_aws_role_arn",
        "arn:aws:iam::ten-ant:role/r",
        "seqr_s3_aws_role_arn must be empty or",
    ),
    (
        "seqr_s3_aws_role_duration_seconds",
        600,
        "seqr_s3_aws_role_duration_seconds must be 0 (the STS's default) or a whole number of seconds",
    ),
    (
        "seqr_s3_nginx_server_name",
        "seqr.example.org; location /x { return 200; }",
        "seqr_s3_nginx_server_name must be",
    ),
    ("seqr_s3_nginx_listen_port", "80; include /etc/passwd", "seqr_s3_nginx_listen_port must be a TCP port"),
    ("seqr_s3_nginx_listen_port", 70000, "seqr_s3_nginx_listen_port must be a TCP port"),
    ("seqr_s3_nginx_tls_port", 0, "seqr_s3_nginx_tls_port must be a TCP port"),
    ("seqr_s3_nginx_site_name", "../conf.d/x", "seqr_s3_nginx_site_name is a file name"),
    (
        "seqr_s3_nginx_static_root",
        "/seqr/static/; autoindex on",
        "seqr_s3_nginx_static_root must be an absolute",
    ),
    (
        "seqr_s3_nginx_reference_root",
        "/ref data/",
        "seqr_s3_nginx_reference_root must be empty or an absolute",
    ),
    ("seqr_s3_nginx_tls_certificate", "/etc/x.pem; ssl_verify off", "seqr_s3_nginx_tls_certificate must be"),
    ("seqr_s3_nginx_ca_bundle", "/etc/ca.pem;", "seqr_s3_nginx_ca_bundle must be empty or"),
    ("seqr_s3_nginx_app_upstream", "127.0.0.1:8000; server evil:80", "seqr_s3_nginx_app_upstream must be"),
    ("seqr_s3_nginx_reads_upstream", "http://reads/; foo", "seqr_s3_nginx_reads_upstream must be empty or"),
    ("seqr_s3_nginx_reads_location", "/reads/ { }", "seqr_s3_nginx_reads_location must be a location path"),
    ("seqr_s3_accel_location", "/a;b/", "seqr_s3_accel_location is an nginx location"),
    ("seqr_s3_nginx_s3_keepalive_servers", ["s3.local:443; server evil:80"], "must be a list of host:port"),
    ("seqr_s3_nginx_resolvers", ["127.0.0.1 ipv6=off"], "seqr_s3_nginx_resolvers must be a list of IP"),
    ("seqr_s3_nginx_s3_keepalive", 0, "seqr_s3_nginx_s3_keepalive must be a whole number"),
    ("seqr_s3_nginx_resolver_valid", "30s ipv6=off", "seqr_s3_nginx_resolver_valid must be an nginx time"),
    ("seqr_s3_nginx_client_max_body_size", "100m; foo", "seqr_s3_nginx_client_max_body_size must be"),
    ("seqr_s3_nginx_proxy_read_timeout", "600s; foo", "seqr_s3_nginx_proxy_read_timeout must be an nginx"),
    ("seqr_s3_nginx_s3_buffer_size", "64k; foo", "seqr_s3_nginx_s3_buffer_size must be an nginx size"),
    ("seqr_s3_nginx_track_buffers", "32 64k; foo", "seqr_s3_nginx_track_buffers must be a count and a size"),
    ("seqr_s3_boto3_version", "1.0; rm", "seqr_s3_boto3_version must be empty (the role's pin"),
    ("seqr_s3_user", "seqr\nx", "seqr_s3_user must be a user name"),
]


@pytest.mark.parametrize(
    ("name", "value", "said"),
    BAD_VALUES,
    ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(BAD_VALUES)],
)
def test_bad_value_is_refused_before_anything_changes(
    name: str, value: object, said: str, tmp_path: Path
) -> None:
    host = _host(tmp_path)
    before = _snapshot(host.checkout, host.home, host.aws_dir, host.sites_available)
    refused = run_role(host.variables(**{name: value}), tmp_path)
    assert refused.returncode != 0
    assert said in refused.stdout, refused.stdout[-3000:]
    _unchanged(host, before)


def test_bad_keys_are_refused_without_showing_them(tmp_path: Path) -> None:
    host = _host(tmp_path)
    secret = "wJalrXUtnFEMI/K7MDENG" + INJECTION
    before = _snapshot(host.checkout, host.home, host.aws_dir, host.sites_available)
    refused = run_role(
        host.variables(
            seqr_s3_aws_credentials_mode="static",
            seqr_s3_aws_access_key_id="AKIDEXAMPLE",
            seqr_s3_aws_secret_access_key=secret,
        ),
        tmp_path,
    )
    assert refused.returncode != 0
    assert "seqr_s3_aws_secret_access_key may hold only printable ASCII without spaces" in refused.stdout
    assert "wJalrXUtnFEMI" not in refused.stdout + refused.stderr
    _unchanged(host, before)


# An AWS role, and Ceph's (no account, or a tenant); the shortest and longest session botocore asks for.
ROLES = [
    {"seqr_s3_aws_role_arn": "arn:aws:iam::123456789012:role/seqr-reads"},
    {"seqr_s3_aws_role_arn": "arn:aws:iam:::role/seqr-reads", "seqr_s3_aws_role_duration_seconds": 900},
    {
        "seqr_s3_aws_role_arn": "arn:aws:iam::hospital_a:role/seqr-reads",
        "seqr_s3_aws_role_duration_seconds": 43200,
    },
]


@pytest.mark.parametrize("role", ROLES, ids=["aws", "ceph", "ceph-tenant"])
def test_good_values_pass_every_check(role: dict[str, object], tmp_path: Path) -> None:
    """The control: the same stand-in with good values gets past validation (and fails later, at nginx -t
    against a conflicting default server, so the run stays inside the temp folder)."""
    host = _host(tmp_path)
    host.write_nginx_conf("    server { listen 18080 default_server; return 404; }\n")
    done = run_role(
        host.variables(
            seqr_s3_nginx_default_server=True,
            seqr_s3_region="eu-west-1",
            seqr_s3_nginx_server_name="seqr.example.org www.seqr.example.org",
            seqr_s3_nginx_s3_keepalive_servers=["127.0.0.1:8333", "[::1]:8333"],
            seqr_s3_aws_credentials_mode="assume_role",
            seqr_s3_aws_role_external_id="seqr-ext:1",
            **role,
        ),
        tmp_path,
    )
    assert "Render the settings.py block and the AWS profile once" in done.stdout
    assert "a duplicate default server" in done.stdout
