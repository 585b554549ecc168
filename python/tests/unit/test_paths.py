"""s3:// path parsing: what seqr may store and the browser sends back, and clear errors for the rest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqr_s3.paths import InvalidS3Path, S3Path, is_s3_path, parse_s3_path


@pytest.mark.parametrize(
    ("value", "bucket", "key"),
    [
        ("s3://reads/sample.bam", "reads", "sample.bam"),
        ("s3://my.bucket-1/a/b/c/sample.cram", "my.bucket-1", "a/b/c/sample.cram"),
        ("s3://reads/with space/and+plus.bam", "reads", "with space/and+plus.bam"),
        ("s3://reads/percent%20stays%2Fliteral.bam", "reads", "percent%20stays%2Fliteral.bam"),
        ("s3://reads/ünïcødé/样本 1.bam.bai", "reads", "ünïcødé/样本 1.bam.bai"),
        ("s3://reads/a//double-slash.bam", "reads", "a//double-slash.bam"),
        ("s3://abc/...dots.bam", "abc", "...dots.bam"),
    ],
)
def test_valid_paths_keep_the_key_verbatim(value: str, bucket: str, key: str) -> None:
    parsed = parse_s3_path(value)
    assert parsed == S3Path(bucket=bucket, key=key)
    assert str(parsed) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("reads/sample.bam", "must start with 's3://'"),
        ("S3://reads/sample.bam", "must start with 's3://'"),
        ("gs://reads/sample.bam", "must start with 's3://'"),
        ("s3://", "no bucket name"),
        ("s3:///sample.bam", "no bucket name"),
        ("s3://reads", "no object key"),
        ("s3://reads/", "no object key"),
        ("s3://Reads/sample.bam", "bucket name 'Reads'"),
        ("s3://re_ads/sample.bam", "bucket name 're_ads'"),
        ("s3://ab/sample.bam", "bucket name 'ab'"),
        ("s3://" + "a" * 64 + "/sample.bam", "must be 3-63"),
        ("s3://-reads/sample.bam", "starting and ending"),
        ("s3://reads../x.bam", "starting and ending"),
        ("s3://re..ads/x.bam", "must not contain '..'"),
        ("s3://192.168.1.1/x.bam", "IP address"),
        ("s3://reads/folder/", "names a folder"),
        ("s3://reads/a/../other/x.bam", "'..' segments"),
        ("s3://reads/./x.bam", "'..' segments"),
        ("s3://reads/line\nbreak.bam", "control characters"),
        ("s3://reads/nul\x00.bam", "control characters"),
        ("s3://reads/" + "k" * 1025, "1025 bytes"),
        ("s3://reads/" + "é" * 513, "1026 bytes"),
        ("s3://reads/lone-surrogate-\udc80.bam", "not valid unicode"),
    ],
)
def test_invalid_paths_say_why(value: str, reason: str) -> None:
    with pytest.raises(InvalidS3Path) as raised:
        parse_s3_path(value)
    assert reason in str(raised.value)
    assert "invalid S3 path" in str(raised.value)


def test_non_strings_are_refused_with_their_type() -> None:
    with pytest.raises(InvalidS3Path, match="expected a string, got bytes"):
        parse_s3_path(b"s3://reads/x.bam")  # type: ignore[arg-type]


def test_is_s3_path_only_for_s3_strings() -> None:
    assert is_s3_path("s3://reads/x.bam")
    assert not is_s3_path("gs://reads/x.bam")
    assert not is_s3_path("/data/reads/x.bam")
    assert not is_s3_path(None)
    assert not is_s3_path(b"s3://reads/x.bam")


_KEY_SEGMENT = st.text(
    alphabet=st.characters(min_codepoint=0x20, exclude_characters="/\x7f", exclude_categories=("Cs",)),
    min_size=1,
    max_size=20,
).filter(lambda segment: segment not in (".", ".."))


@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True),
    segments=st.lists(_KEY_SEGMENT, min_size=1, max_size=5),
)
def test_round_trip_for_any_printable_key(bucket: str, segments: list[str]) -> None:
    key = "/".join(segments)
    parsed = parse_s3_path(f"s3://{bucket}/{key}")
    assert (parsed.bucket, parsed.key) == (bucket, key)
    assert str(parsed) == f"s3://{bucket}/{key}"
