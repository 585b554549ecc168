"""Credentials and networks of a hospital's S3 (issue 17), as the role configures them: a private CA boto3
and nginx trust (seqr_s3_s3_ca_bundle), an egress proxy (seqr_s3_egress_proxy), requester-pays buckets
(seqr_s3_requester_pays) and the web_identity credentials mode. The role's tasks run by ansible-playbook on
this machine; the AWS profile they write is read back by botocore itself. Reads over these settings are
proven in python/tests/integration/test_s3_networks.py.
"""

from __future__ import annotations

import grp
import stat
from pathlib import Path

import boto3
import pytest
from fixtures.tls import PrivateCA
from role_play import SeqrStandinHost, changed_count, run_role
from role_render import nginx_test, render_template

ARN = "arn:aws:iam::123456789012:role/seqr-reads"


def make_ca_pem(folder: Path) -> Path:
    """A private CA's certificate (PEM), for the role to copy."""
    return PrivateCA(folder).certificate


def _mode_owner(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


@pytest.mark.usefixtures("as_root")  # the copy belongs to root
def test_ca_bundle_is_copied_root_owned_readable_and_removed_when_emptied(tmp_path: Path) -> None:
    ca = make_ca_pem(tmp_path / "controller")
    home = tmp_path / "opt_seqr_s3"
    gid = grp.getgrnam("nogroup").gr_gid
    variables = {
        "seqr_s3_home": str(home),
        "__seqr_s3_user_gid": gid,
        "seqr_s3_s3_ca_bundle": str(ca),
        # Nothing to restart or reload on this machine: the handlers the tasks notify must not run.
        "seqr_s3_service_manager": "none",
        "__seqr_s3_nginx_put_back": True,
    }
    copy = home / "tls" / "s3_ca_bundle.pem"
    checked = run_role(variables, tmp_path, "s3_ca_bundle.yml", "--check")
    assert checked.returncode == 0, checked.stdout
    assert not copy.exists(), "check mode writes nothing"

    made = run_role(variables, tmp_path, "s3_ca_bundle.yml")
    assert made.returncode == 0, made.stdout
    assert copy.read_bytes() == ca.read_bytes()
    assert _mode_owner(copy) == (0o644, 0, gid), "root changes it; the seqr user and nginx read it"
    again = run_role(variables, tmp_path, "s3_ca_bundle.yml")
    assert changed_count(again.stdout) == 0, again.stdout

    # Emptied: credentials.yml writes the profile without ca_bundle, then deletes the copy.
    aws_dir = tmp_path / "aws"
    emptied = {
        **variables,
        "seqr_s3_s3_ca_bundle": "",
        "seqr_s3_user": "root",
        "__seqr_s3_aws_dir": str(aws_dir),
    }
    (home / "state").mkdir()  # home.yml's, which records that the role created ~/.aws
    removed = run_role(emptied, tmp_path, "credentials.yml")
    assert removed.returncode == 0, removed.stdout
    assert not copy.parent.exists()
    assert "ca_bundle" not in (aws_dir / "config").read_text()
    assert changed_count(run_role(emptied, tmp_path, "credentials.yml").stdout) == 0


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object) -> boto3.Session:
    config = tmp_path / "config"
    body = render_template("aws_config.j2", overrides).rstrip()
    config.write_text(f"# BEGIN seqr_s3 managed profile\n{body}\n# END seqr_s3 managed profile\n")
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CA_BUNDLE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return boto3.Session(profile_name="seqr_s3")


def test_profile_names_the_copied_ca_bundle_and_boto3_verifies_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _profile(
        tmp_path, monkeypatch, seqr_s3_s3_ca_bundle="/controller/ca.pem", seqr_s3_home="/opt/seqr_s3"
    )
    assert session._session.get_config_variable("ca_bundle") == "/opt/seqr_s3/tls/s3_ca_bundle.pem"
    client = session.client("s3", endpoint_url="https://rgw.internal:8443", region_name="us-east-1")
    assert client._endpoint.http_session._verify == "/opt/seqr_s3/tls/s3_ca_bundle.pem"
    plain = _profile(tmp_path, monkeypatch)
    assert plain._session.get_config_variable("ca_bundle") is None


def test_web_identity_profile_is_what_boto3_exchanges_a_token_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("eyJ.test.token")
    session = _profile(
        tmp_path,
        monkeypatch,
        seqr_s3_aws_credentials_mode="web_identity",
        seqr_s3_aws_role_arn=ARN,
        seqr_s3_aws_web_identity_token_file=str(token),
    )
    profile = session._session.get_scoped_config()
    assert (profile["role_arn"], profile["web_identity_token_file"]) == (ARN, str(token))
    assert profile["role_session_name"] == "seqr-s3"
    assert "credential_source" not in profile and "source_profile" not in profile
    # boto3 picks the web identity provider (credentials are fetched from STS on first use, not here).
    assert session.get_credentials().method == "assume-role-with-web-identity"


def test_settings_block_carries_proxy_and_requester_pays() -> None:
    block = render_template(
        "settings_block.py.j2",
        {
            "seqr_s3_mode": "proxy",
            "seqr_s3_egress_proxy": "http://proxy.internal:3128",
            "seqr_s3_requester_pays": True,
            "seqr_s3_manage_csp": False,
        },
    )
    assert "    \"EGRESS_PROXY\": 'http://proxy.internal:3128',\n" in block
    assert '    "REQUESTER_PAYS": True,\n' in block
    default = render_template("settings_block.py.j2", {"seqr_s3_manage_csp": False})
    assert '    "EGRESS_PROXY": None,\n' in default and '    "REQUESTER_PAYS": False,\n' in default


def test_nginx_trusts_the_copied_ca_unless_its_own_bundle_is_set(tmp_path: Path) -> None:
    ca = make_ca_pem(tmp_path / "ca")
    home = tmp_path / "opt_seqr_s3"
    (home / "tls").mkdir(parents=True)
    (home / "tls" / "s3_ca_bundle.pem").write_bytes(ca.read_bytes())
    common = {"seqr_s3_nginx_resolvers": ["127.0.0.1"], "seqr_s3_home": str(home)}
    site = render_template("nginx_site.conf.j2", {**common, "seqr_s3_s3_ca_bundle": str(ca)})
    assert f"proxy_ssl_trusted_certificate {home}/tls/s3_ca_bundle.pem;" in site
    assert "proxy_ssl_verify on;" in site
    tested = nginx_test(site, tmp_path / "nginx")
    assert tested.returncode == 0, tested.stderr
    own = render_template(
        "nginx_site.conf.j2", {**common, "seqr_s3_s3_ca_bundle": str(ca), "seqr_s3_nginx_ca_bundle": str(ca)}
    )
    assert f"proxy_ssl_trusted_certificate {ca};" in own
    system = render_template("nginx_site.conf.j2", common)
    assert "proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;" in system


# --- Refusals, before anything changes ----------------------------------------------------------------------

REFUSED = {
    "proxy_in_accel": (
        {"seqr_s3_mode": "accel", "seqr_s3_egress_proxy": "http://proxy.internal:3128"},
        "nginx's proxy_pass cannot go through a forward proxy",
    ),
    "proxy_shape": (
        {"seqr_s3_mode": "proxy", "seqr_s3_egress_proxy": "http://user:pw@proxy.internal:3128"},
        "seqr_s3_egress_proxy must be empty or http://host:port",
    ),
    "requester_pays_not_bool": (
        {"seqr_s3_requester_pays": "yes"},
        "seqr_s3_requester_pays must be true or false",
    ),
    "ca_bundle_missing": (
        {"seqr_s3_s3_ca_bundle": "/nonexistent/ca.pem"},
        "seqr_s3_s3_ca_bundle is '/nonexistent",
    ),
    "web_identity_without_arn": (
        {"seqr_s3_aws_credentials_mode": "web_identity", "seqr_s3_aws_web_identity_token_file": "/run/token"},
        "web_identity needs seqr_s3_aws_role_arn",
    ),
    "web_identity_without_token": (
        {"seqr_s3_aws_credentials_mode": "web_identity", "seqr_s3_aws_role_arn": ARN},
        "web_identity needs seqr_s3_aws_web_identity_token_file",
    ),
    "web_identity_with_keys": (
        {
            "seqr_s3_aws_credentials_mode": "web_identity",
            "seqr_s3_aws_role_arn": ARN,
            "seqr_s3_aws_web_identity_token_file": "/run/token",
            "seqr_s3_aws_access_key_id": "AKIDEXAMPLE",
            "seqr_s3_aws_secret_access_key": "wJalrXUtnFEMIwebidentity",
        },
        "web_identity takes no access keys",
    ),
    "web_identity_token_absent": (
        {
            "seqr_s3_aws_credentials_mode": "web_identity",
            "seqr_s3_aws_role_arn": ARN,
            "seqr_s3_aws_web_identity_token_file": "/nonexistent/token",
        },
        "seqr_s3_aws_web_identity_token_file /nonexistent/token is not a file on this host",
    ),
}


@pytest.mark.usefixtures("as_root")  # the role runs as root on a seqr host
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_network_and_credential_mistakes_are_refused_before_anything_changes(
    case: str, tmp_path: Path
) -> None:
    host = SeqrStandinHost(tmp_path)
    settings_before = host.settings.read_text()
    overrides, said = REFUSED[case]
    refused = run_role(host.variables(**overrides), tmp_path)
    assert refused.returncode != 0
    assert said in refused.stdout, refused.stdout[-3000:]
    assert host.settings.read_text() == settings_before
    assert not host.home.exists() and not host.aws_dir.exists() and not host.restarted.exists()
    assert "wJalrXUtnFEMI" not in refused.stdout + refused.stderr


@pytest.mark.usefixtures("as_root")  # the role runs as root on a seqr host
def test_good_network_values_pass_validation_and_the_ca_is_there_before_nginx_is_tested(
    tmp_path: Path,
) -> None:
    """The whole role with every new value set: validation passes, the CA bundle is copied before the site's
    whole-configuration nginx -t (which reads it), and that test is where the run stops (a conflicting default
    server, so nothing outside the temp folder is touched)."""
    host = SeqrStandinHost(tmp_path)
    host.write_nginx_conf("    server { listen 18080 default_server; return 404; }\n")
    token = tmp_path / "token"
    token.write_text("eyJ.test.token")
    ca = make_ca_pem(tmp_path / "controller")
    done = run_role(
        host.variables(
            seqr_s3_mode="redirect",
            seqr_s3_nginx_default_server=True,
            seqr_s3_egress_proxy="http://proxy.internal:3128",
            seqr_s3_requester_pays=True,
            seqr_s3_s3_ca_bundle=str(ca),
            seqr_s3_aws_credentials_mode="web_identity",
            seqr_s3_aws_role_arn=ARN,
            seqr_s3_aws_web_identity_token_file=str(token),
        ),
        tmp_path,
    )
    assert "Render the settings.py block and the AWS profile once" in done.stdout, done.stdout[-3000:]
    assert "a duplicate default server" in done.stdout, done.stdout[-3000:]
    assert (host.home / "tls" / "s3_ca_bundle.pem").read_bytes() == ca.read_bytes()
    assert not host.restarted.exists()
