"""The settings.py block (django-csp 3.x and 4.x forms) and the AWS config/credentials per credentials mode.

The block is compiled, then executed after the seqr stand-in's real settings.py, and the resulting settings
are checked. The AWS files are read back by botocore itself, the way seqr's process reads them.
"""

from __future__ import annotations

import py_compile
import re
from pathlib import Path

import boto3
import pytest
import yaml
from role_render import REPO_ROOT, ROLE_DIR, render_template

STANDIN_SETTINGS = REPO_ROOT / "tests" / "seqr_standin" / "settings.py"
IGV_2_10_5 = [
    "'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='",
    "'sha256-s8l0U2/BsebhfOvm08Z+4w1MnftmnPeoOMbSi+f5hCI='",
    "'sha256-T9widob1zmlNnk3NzLRUfXFToG7AkPTuLDXaKU2tc6c='",
    "'sha256-ITHmamcImsZ/Je1xrdtDLZVvRSpj1Zokb6uHXORB824='",
]


def _block(csp_major: int, **overrides: object) -> str:
    """The block as blockinfile writes it (with the role's markers)."""
    body = render_template("settings_block.py.j2", overrides, {"__seqr_s3_csp_major": csp_major})
    return f"# BEGIN seqr_s3 managed block\n{body.rstrip()}\n# END seqr_s3 managed block\n"


def _run_settings(source: str, tmp_path: Path) -> dict:
    """py_compile the file (what the role's validate: does), then execute it and return its globals."""
    settings_file = tmp_path / "settings.py"
    settings_file.write_text(source)
    py_compile.compile(str(settings_file), doraise=True)
    namespace: dict = {"__file__": str(settings_file), "__name__": "settings"}
    exec(compile(source, str(settings_file), "exec"), namespace)  # noqa: S102 - our own rendered test settings
    return namespace


CSP4_SETTINGS = """
INSTALLED_APPS = ["seqr", "csp"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "style-src": ["'self'", "'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='"],
        "style-src-elem": ["'self'"],
        "connect-src": ["'self'", "https://igv.org"],
    }
}
"""


def test_block_on_seqr_settings_adds_app_setting_and_hashes_once(tmp_path: Path) -> None:
    original = STANDIN_SETTINGS.read_text()
    settings = _run_settings(original + "\n" + _block(3, seqr_s3_allowed_prefixes=["s3://reads/"]), tmp_path)
    assert settings["INSTALLED_APPS"].count("seqr_s3") == 1
    assert settings["SEQR_S3"]["MODE"] == "accel"
    assert settings["SEQR_S3"]["ALLOWED_PREFIXES"] == ["s3://reads/"]
    assert settings["SEQR_S3"]["PROFILE"] == "seqr_s3"
    assert settings["SEQR_S3"]["ENDPOINT_URL"] is None
    for name in ("CSP_STYLE_SRC", "CSP_STYLE_SRC_ELEM"):
        sources = settings[name]
        assert isinstance(sources, tuple)
        assert all(sources.count(source) == 1 for source in IGV_2_10_5)
    # accel mode adds nothing to connect-src: the browser only talks to seqr.
    (tmp_path / "plain").mkdir()
    plain = _run_settings(original, tmp_path / "plain")
    assert settings["CSP_CONNECT_SRC"] == plain["CSP_CONNECT_SRC"]


def test_redirect_mode_adds_bucket_origins_to_connect_src(tmp_path: Path) -> None:
    block = _block(
        3,
        seqr_s3_mode="redirect",
        seqr_s3_allowed_prefixes=["s3://reads/", "s3://reads/cohort/"],
        seqr_s3_region="eu-west-1",
        seqr_s3_csp_connect_src_extra=["https://extra.example.org"],
    )
    settings = _run_settings(STANDIN_SETTINGS.read_text() + "\n" + block, tmp_path)
    added = [s for s in settings["CSP_CONNECT_SRC"] if "eu-west-1" in s or "extra" in s]
    assert added == [
        "https://extra.example.org",
        "https://reads.s3.eu-west-1.amazonaws.com",
        "https://s3.eu-west-1.amazonaws.com",
    ]


def test_django_csp_3_block_never_writes_the_4_form_and_back() -> None:
    assert "CONTENT_SECURITY_POLICY" not in _block(3)
    four = _block(4)
    assert "CSP_STYLE_SRC" not in four and "CSP_CONNECT_SRC" not in four


def test_django_csp_4_block_extends_the_directives_dict(tmp_path: Path) -> None:
    settings = _run_settings(
        CSP4_SETTINGS + _block(4, seqr_s3_mode="redirect", seqr_s3_allowed_prefixes=["s3://rds/"]), tmp_path
    )
    directives = settings["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert directives["style-src"] == ["'self'", *IGV_2_10_5]
    assert directives["style-src-elem"] == ["'self'", *IGV_2_10_5]
    assert directives["connect-src"] == [
        "'self'",
        "https://igv.org",
        "https://rds.s3.amazonaws.com",
        "https://s3.amazonaws.com",
    ]
    assert "CSP_STYLE_SRC" not in settings


def test_override_hashes_replace_the_table_entry(tmp_path: Path) -> None:
    settings = _run_settings(
        STANDIN_SETTINGS.read_text() + _block(3, seqr_s3_igv_css_hashes=["sha256-b3ZlcnJpZGU="]), tmp_path
    )
    assert "'sha256-b3ZlcnJpZGU='" in settings["CSP_STYLE_SRC"]


def test_csp_can_be_left_alone(tmp_path: Path) -> None:
    block = _block(3, seqr_s3_manage_csp=False)
    assert "CSP_" not in block
    settings = _run_settings(STANDIN_SETTINGS.read_text() + block, tmp_path)
    assert "seqr_s3" in settings["INSTALLED_APPS"]


def test_settings_values_with_quotes_stay_python(tmp_path: Path) -> None:
    settings = _run_settings(
        "INSTALLED_APPS = []\n" + _block(3, seqr_s3_manage_csp=False, seqr_s3_aws_profile="o'brien\"s"),
        tmp_path,
    )
    assert settings["SEQR_S3"]["PROFILE"] == "o'brien\"s"


def test_the_validated_settings_are_the_written_ones() -> None:
    # validate.yml judges vars/main.yml's __seqr_s3_settings with the package's validator; the block must
    # write exactly those keys (and the per-host secret's file, which the role itself makes).
    validated = yaml.safe_load((ROLE_DIR / "vars" / "main.yml").read_text())["__seqr_s3_settings"]
    template = (ROLE_DIR / "templates" / "settings_block.py.j2").read_text()
    block = template[template.index("SEQR_S3 = {") : template.index("\n}\n", template.index("SEQR_S3 = {"))]
    written = re.findall(r'^    "([A-Z_]+)": ', block, flags=re.M)
    assert written == [*validated, "ACCEL_SECRET_FILE"]
    for key, expression in validated.items():
        variable = re.search(r"seqr_s3_[a-z_]+", expression).group(0)
        assert re.search(rf'^    "{key}": .*\b{variable}\b', block, flags=re.M), key


def test_unknown_igv_version_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(Exception, match=r"9\.9\.9|undefined"):
        _block(3, seqr_s3_igv_version="9.9.9")


# --- AWS config and credentials --------------------------------------------------------------------------


def _aws_files(tmp_path: Path, **overrides: object) -> tuple[Path, Path]:
    """Write both files as blockinfile would (markers around the rendered block)."""
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    for path, template in ((config, "aws_config.j2"), (credentials, "aws_credentials.j2")):
        body = render_template(template, overrides).rstrip()
        path.write_text(f"# BEGIN seqr_s3 managed profile\n{body}\n# END seqr_s3 managed profile\n")
    return config, credentials


def _session(monkeypatch: pytest.MonkeyPatch, config: Path, credentials: Path, profile: str) -> boto3.Session:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return boto3.Session(profile_name=profile)


def test_instance_mode_writes_region_endpoint_and_style_but_no_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = _aws_files(
        tmp_path,
        seqr_s3_region="eu-west-1",
        seqr_s3_endpoint_url="https://rgw.internal:8443",
        seqr_s3_addressing_style="path",
    )
    session = _session(monkeypatch, config, tmp_path / "none", "seqr_s3")
    profile = session._session.get_scoped_config()
    assert session.region_name == "eu-west-1"
    assert profile["endpoint_url"] == "https://rgw.internal:8443"
    assert profile["s3"] == {"addressing_style": "path", "signature_version": "s3v4"}
    assert "role_arn" not in profile
    assert session.get_credentials() is None  # metadata disabled here; on EC2 the instance profile answers
    client = session.client("s3")
    assert client.meta.endpoint_url == "https://rgw.internal:8443"


def test_static_mode_keys_are_read_by_boto3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, credentials = _aws_files(
        tmp_path,
        seqr_s3_aws_credentials_mode="static",
        seqr_s3_aws_access_key_id="AKIATESTKEY",
        seqr_s3_aws_secret_access_key="s3cr3t/with+chars",
    )
    frozen = _session(monkeypatch, config, credentials, "seqr_s3").get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AKIATESTKEY", "s3cr3t/with+chars", None)


def test_assume_role_with_credential_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:iam::123456789012:role/seqr-reads"
    config, _ = _aws_files(
        tmp_path,
        seqr_s3_aws_credentials_mode="assume_role",
        seqr_s3_aws_role_arn=arn,
        seqr_s3_aws_role_external_id="ext-1",
    )
    profile = _session(monkeypatch, config, tmp_path / "none", "seqr_s3")._session.get_scoped_config()
    assert profile["role_arn"] == arn
    assert profile["credential_source"] == "Ec2InstanceMetadata"
    assert profile["external_id"] == "ext-1"
    assert "source_profile" not in profile


def test_assume_role_with_static_source_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, credentials = _aws_files(
        tmp_path,
        seqr_s3_aws_credentials_mode="assume_role",
        seqr_s3_aws_role_arn="arn:aws:iam::123456789012:role/r",
        seqr_s3_aws_access_key_id="AKIASOURCE",
        seqr_s3_aws_secret_access_key="source-secret",
    )
    session = _session(monkeypatch, config, credentials, "seqr_s3")
    assert session._session.get_scoped_config()["source_profile"] == "seqr_s3_source"
    source = _session(monkeypatch, config, credentials, "seqr_s3_source").get_credentials()
    assert source.get_frozen_credentials().access_key == "AKIASOURCE"


def test_assume_role_of_ceph_with_a_session_duration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, _ = _aws_files(
        tmp_path,
        seqr_s3_aws_credentials_mode="assume_role",
        seqr_s3_aws_role_arn="arn:aws:iam:::role/seqr-reads",
        seqr_s3_aws_role_duration_seconds=900,
        seqr_s3_aws_access_key_id="AKIASOURCE",
        seqr_s3_aws_secret_access_key="source-secret",
        seqr_s3_endpoint_url="https://rgw.internal:8443",
    )
    profile = _session(monkeypatch, config, tmp_path / "none", "seqr_s3")._session.get_scoped_config()
    assert (profile["role_arn"], profile["duration_seconds"]) == ("arn:aws:iam:::role/seqr-reads", "900")
    # Profile-wide, so botocore's assume-role call goes to the same store's STS as every S3 call.
    assert profile["endpoint_url"] == "https://rgw.internal:8443"
    (tmp_path / "unset").mkdir()
    unset, _ = _aws_files(
        tmp_path / "unset",
        seqr_s3_aws_credentials_mode="assume_role",
        seqr_s3_aws_role_arn="arn:aws:iam::123456789012:role/r",
    )
    assert "duration_seconds" not in unset.read_text()


def test_default_profile_name_uses_the_default_section(tmp_path: Path) -> None:
    config, _ = _aws_files(tmp_path, seqr_s3_aws_profile="default", seqr_s3_region="us-east-2")
    assert "[default]" in config.read_text()
    assert "[profile default]" not in config.read_text()
