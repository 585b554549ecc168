"""Parse and validate ``s3://bucket/key`` paths.

seqr stores track locations as plain strings and the browser sends them back URL-decoded inside the request
path, so every string that reaches S3 passes through here first: a malformed path must fail with a message
that says what is wrong instead of turning into a confusing S3 error later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

S3_SCHEME = "s3://"

# S3's rules for new buckets (the ones Ceph RGW also enforces): 3-63 lowercase letters, digits, dots and
# hyphens, starting and ending with a letter or digit.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")
# S3 limits keys to 1024 bytes of UTF-8.
MAX_KEY_BYTES = 1024


class InvalidS3Path(ValueError):
    """A string that looks like an s3:// path but cannot name one object."""


@dataclass(frozen=True)
class S3Path:
    """One object in a bucket; ``str()`` gives back the ``s3://`` form seqr stores."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"


def is_s3_path(value: object) -> bool:
    """Tell s3:// paths apart from everything seqr already handles (local files, gs://)."""
    return isinstance(value, str) and value.startswith(S3_SCHEME)


def validate_bucket_name(bucket: str, original: str) -> None:
    """Raise InvalidS3Path naming the rule a bucket name breaks."""
    if not _BUCKET_NAME.fullmatch(bucket):
        raise InvalidS3Path(
            f"invalid S3 path {original!r}: bucket name {bucket!r} must be 3-63 lowercase letters, digits, "
            "dots or hyphens, starting and ending with a letter or digit"
        )
    if ".." in bucket or _IPV4_LIKE.fullmatch(bucket):
        raise InvalidS3Path(
            f"invalid S3 path {original!r}: bucket name {bucket!r} must not contain '..' or be an IP address"
        )


def split_bucket_and_rest(value: str) -> tuple[str, str]:
    """Split ``s3://bucket/rest`` into bucket and rest (maybe empty); for paths and allow-list entries."""
    if not isinstance(value, str):
        raise InvalidS3Path(f"invalid S3 path {value!r}: expected a string, got {type(value).__name__}")
    if not value.startswith(S3_SCHEME):
        raise InvalidS3Path(f"invalid S3 path {value!r}: must start with {S3_SCHEME!r}")
    bucket, _, rest = value[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise InvalidS3Path(f"invalid S3 path {value!r}: no bucket name after {S3_SCHEME!r}")
    validate_bucket_name(bucket, value)
    return bucket, rest


def parse_s3_path(value: str) -> S3Path:
    """Parse ``s3://bucket/key`` into an S3Path, or raise InvalidS3Path saying why not.

    Keys may contain spaces, ``+``, ``%`` and any unicode: they arrive already URL-decoded once by Django and
    are used verbatim (botocore does the quoting towards S3). Refused: control characters, a key naming a
    folder (trailing ``/``) and ``.``/``..`` segments, because an HTTP hop between us and S3 may normalise
    those and so read a different object than the one the allow-list approved.
    """
    bucket, key = split_bucket_and_rest(value)
    if not key:
        raise InvalidS3Path(f"invalid S3 path {value!r}: no object key after the bucket name")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        raise InvalidS3Path(f"invalid S3 path {value!r}: the key contains control characters")
    if key.endswith("/"):
        raise InvalidS3Path(f"invalid S3 path {value!r}: the key ends with '/', so it names a folder")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise InvalidS3Path(f"invalid S3 path {value!r}: '.' and '..' segments are not allowed in the key")
    try:
        key_bytes = len(key.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise InvalidS3Path(f"invalid S3 path {value!r}: key is not valid unicode ({error.reason})") from None
    if key_bytes > MAX_KEY_BYTES:
        raise InvalidS3Path(f"invalid S3 path {value!r}: key of {key_bytes} bytes, S3 allows {MAX_KEY_BYTES}")
    return S3Path(bucket=bucket, key=key)
