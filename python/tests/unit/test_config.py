"""SEQR_S3 validation: defaults, and an error naming the key for each kind of mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from seqr_s3.access import candidate_sources
from seqr_s3.config import AllowedPrefix, ConfigError, S3Settings, parse_settings


def test_defaults_match_the_contract() -> None:
    settings = parse_settings(None)
    assert settings == S3Settings()
    assert settings.mode == "accel"
    assert settings.allowed_prefixes == ()
    assert settings.presign_expiry == 300
    assert settings.chunk_size == 1048576
    assert settings.accel_location == "/_seqr_s3_internal/"
    assert (settings.connect_timeout, settings.read_timeout) == (5, 10)
    assert (settings.metadata_timeout, settings.read_attempts) == (5, 1)
    assert settings.addressing_style == "auto"


def test_a_full_setting() -> None:
    settings = parse_settings(
        {
            "MODE": "proxy",
            "ALLOWED_PREFIXES": ["s3://reads/project-a/", "s3://whole-bucket/", "s3://other"],
            "PROFILE": "seqr",
            "REGION": "eu-west-1",
            "ENDPOINT_URL": "http://127.0.0.1:8333",
            "ADDRESSING_STYLE": "path",
            "PRESIGN_EXPIRY": 60,
            "CHUNK_SIZE": 65536,
            "ACCEL_LOCATION": "/_internal_s3/",
            "CONNECT_TIMEOUT": 1.5,
            "READ_TIMEOUT": 10,
            "METADATA_TIMEOUT": 2,
            "READ_ATTEMPTS": 2,
        }
    )
    assert (settings.connect_timeout, settings.read_timeout) == (1.5, 10)
    assert (settings.metadata_timeout, settings.read_attempts) == (2, 2)
    assert settings.allowed_prefixes == (
        AllowedPrefix("reads", "project-a/"),
        AllowedPrefix("whole-bucket", ""),
        AllowedPrefix("other", ""),
    )
    assert settings.is_allowed("reads", "project-a/x.bam")
    assert not settings.is_allowed("reads", "project-ab/x.bam")
    assert not settings.is_allowed("reads", "x.bam")
    assert settings.is_allowed("whole-bucket", "any/where.cram")
    assert not settings.is_allowed("other-bucket", "x.bam")


def test_empty_allow_list_allows_nothing() -> None:
    assert not parse_settings({}).is_allowed("reads", "x.bam")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "SEQR_S3 must be a dict; got list"),
        ({"MDOE": "proxy"}, "unknown keys MDOE"),
        ({"MODE": "stream"}, "SEQR_S3['MODE'] must be one of accel, proxy, redirect; got 'stream'"),
        ({"ADDRESSING_STYLE": "dns"}, "SEQR_S3['ADDRESSING_STYLE'] must be one of auto, path, virtual"),
        ({"ALLOWED_PREFIXES": "s3://reads/"}, "SEQR_S3['ALLOWED_PREFIXES'] must be a list"),
        (
            {"ALLOWED_PREFIXES": ["s3://reads/project-a"]},
            "must end with '/' (a folder), e.g. 's3://reads/project-a/'",
        ),
        (
            {"ALLOWED_PREFIXES": ["reads/"]},
            "invalid entry: invalid S3 path 'reads/': must start with 's3://'",
        ),
        ({"ALLOWED_PREFIXES": ["s3://Bad_Bucket/"]}, "bucket name 'Bad_Bucket'"),
        ({"PROFILE": ""}, "SEQR_S3['PROFILE'] must be a non-empty string or None"),
        ({"REGION": 5}, "SEQR_S3['REGION'] must be a non-empty string or None"),
        ({"ENDPOINT_URL": "127.0.0.1:8333"}, "SEQR_S3['ENDPOINT_URL'] must be an http:// or https:// URL"),
        ({"ENDPOINT_URL": "ftp://host/"}, "must be an http:// or https:// URL"),
        # Each would add a line to the seqr user's ~/.aws/config (botocore runs credential_process).
        ({"REGION": "eu-west-1\ncredential_process = /tmp/x"}, "SEQR_S3['REGION'] must be one name"),
        ({"PROFILE": "seqr]\n[default"}, "SEQR_S3['PROFILE'] must be one name"),
        ({"ENDPOINT_URL": "http://s3.local\ncredential_process = /tmp/x"}, "must not contain whitespace"),
        ({"PRESIGN_EXPIRY": 0}, "SEQR_S3['PRESIGN_EXPIRY'] must be between 1 and 604800; got 0"),
        ({"PRESIGN_EXPIRY": 604801}, "must be between 1 and 604800"),
        ({"PRESIGN_EXPIRY": "300"}, "SEQR_S3['PRESIGN_EXPIRY'] must be an integer; got '300'"),
        ({"CHUNK_SIZE": 1.5}, "SEQR_S3['CHUNK_SIZE'] must be an integer"),
        ({"CHUNK_SIZE": True}, "SEQR_S3['CHUNK_SIZE'] must be an integer; got True"),
        ({"ACCEL_LOCATION": "_internal/"}, "SEQR_S3['ACCEL_LOCATION'] must be a location path"),
        ({"ACCEL_LOCATION": "/internal"}, "SEQR_S3['ACCEL_LOCATION'] must be a location path"),
        ({"CONNECT_TIMEOUT": -1}, "SEQR_S3['CONNECT_TIMEOUT'] must be between"),
        ({"READ_TIMEOUT": None}, "SEQR_S3['READ_TIMEOUT'] must be a number; got None"),
        ({"CONNECT_TIMEOUT": 61}, "SEQR_S3['CONNECT_TIMEOUT'] must be between 0.1 and 60; got 61"),
        ({"READ_TIMEOUT": 3600}, "SEQR_S3['READ_TIMEOUT'] must be between 0.1 and 300; got 3600"),
        ({"METADATA_TIMEOUT": 0}, "SEQR_S3['METADATA_TIMEOUT'] must be between 0.1 and 60; got 0"),
        ({"METADATA_TIMEOUT": "5"}, "SEQR_S3['METADATA_TIMEOUT'] must be a number; got '5'"),
        ({"READ_ATTEMPTS": 0}, "SEQR_S3['READ_ATTEMPTS'] must be between 1 and 3; got 0"),
        ({"READ_ATTEMPTS": 1.0}, "SEQR_S3['READ_ATTEMPTS'] must be an integer; got 1.0"),
    ],
)
def test_mistakes_name_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("requested", "sources"),
    [
        ("s3://b/x.bam", set()),
        ("s3://b/x.bam.bai", {"s3://b/x.bam", "s3://b/x.bam.bam"}),
        ("s3://b/x.bai", {"s3://b/x", "s3://b/x.bam"}),
        ("s3://b/x.cram.crai", {"s3://b/x.cram", "s3://b/x.cram.cram"}),
        ("s3://b/x.crai", {"s3://b/x", "s3://b/x.cram"}),
        ("s3://b/x.vcf.gz.tbi", {"s3://b/x.vcf.gz"}),
    ],
)
def test_index_paths_map_back_to_their_data_files(requested: str, sources: set[str]) -> None:
    assert candidate_sources(requested) == sources


def test_accel_secret_is_read_from_its_file_and_never_shown(tmp_path: Path) -> None:
    secret = "a1B2" * 16
    secret_file = tmp_path / "accel_secret"
    secret_file.write_text(secret + "\n")
    settings = parse_settings({"ACCEL_SECRET_FILE": str(secret_file)})
    assert settings.accel_secret == secret
    assert secret not in repr(settings)
    assert parse_settings({}).accel_secret is None


@pytest.mark.parametrize(
    ("content", "path", "message"),
    [
        (None, "relative/secret", "SEQR_S3['ACCEL_SECRET_FILE'] must be an absolute path or None"),
        (None, "{tmp}/missing", "SEQR_S3['ACCEL_SECRET_FILE'] cannot be read (FileNotFoundError)"),
        ("short1234\n", "{tmp}/secret", "must hold one line of at least 32 letters and digits"),
        ("x" * 40 + " y\n", "{tmp}/secret", "must hold one line of at least 32 letters and digits"),
    ],
    ids=["relative", "missing", "short", "not-one-word"],
)
def test_a_bad_accel_secret_file_is_named_without_its_content(
    tmp_path: Path, content: str | None, path: str, message: str
) -> None:
    secret_path = path.format(tmp=tmp_path)
    if content is not None:
        Path(secret_path).write_text(content)
    with pytest.raises(ConfigError) as raised:
        parse_settings({"ACCEL_SECRET_FILE": secret_path})
    assert message in str(raised.value)
    if content is not None:
        assert content.strip() not in str(raised.value)


def test_egress_proxy_and_requester_pays() -> None:
    settings = parse_settings(
        {"MODE": "proxy", "EGRESS_PROXY": "http://proxy.internal:3128", "REQUESTER_PAYS": True}
    )
    assert (settings.egress_proxy, settings.requester_pays) == ("http://proxy.internal:3128", True)
    assert (parse_settings(None).egress_proxy, parse_settings(None).requester_pays) == (None, False)
    assert parse_settings({"MODE": "redirect", "EGRESS_PROXY": "http://10.0.0.1:8888/"}).egress_proxy


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"MODE": "accel", "EGRESS_PROXY": "http://proxy:3128"}, r"accel mode: nginx .* 'redirect'"),
        ({"MODE": "proxy", "EGRESS_PROXY": "proxy:3128"}, r"'EGRESS_PROXY'.*http://host:port"),
        ({"MODE": "proxy", "EGRESS_PROXY": "http://proxy"}, r"'EGRESS_PROXY'.*http://host:port"),
        ({"MODE": "proxy", "EGRESS_PROXY": "socks5://proxy:1080"}, r"'EGRESS_PROXY'.*http://host:port"),
        ({"MODE": "proxy", "EGRESS_PROXY": "http://u:p@proxy:3128"}, r"'EGRESS_PROXY'.*no place for secrets"),
        ({"MODE": "proxy", "EGRESS_PROXY": "http://proxy:3128/x"}, r"'EGRESS_PROXY'.*without a path"),
        ({"MODE": "proxy", "EGRESS_PROXY": "http://proxy:3128\n"}, r"'EGRESS_PROXY'.*whitespace"),
        ({"REQUESTER_PAYS": "yes"}, r"'REQUESTER_PAYS'.*True or False"),
    ],
)
def test_egress_proxy_and_requester_pays_mistakes(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(raw)
