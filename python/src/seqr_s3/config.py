"""Read and validate the one Django setting, ``SEQR_S3`` (a dict; see docs/CONTRACT.md for the keys).

Validation is strict and names the key at fault, because a typo here otherwise shows up as tracks that
silently fail to load in the browser. Unknown keys are errors for the same reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from .paths import InvalidS3Path, split_bucket_and_rest

SETTING_NAME = "SEQR_S3"
MODES = ("accel", "proxy", "redirect")
ADDRESSING_STYLES = ("auto", "path", "virtual")
# SigV4 presigned URLs cannot live longer than seven days.
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600
MAX_CHUNK_SIZE = 64 * 1024 * 1024
# Region (AWS or a Ceph zone group) and profile names: one token, because both are written as lines of the
# seqr user's ~/.aws/config, where a newline or '[' would start a line or section of the attacker's choosing.
_NAME_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# The shared secret nginx proves itself with (ACCEL_SECRET_FILE): at least this many characters.
MIN_ACCEL_SECRET_LENGTH = 32


class ConfigError(ValueError):
    """The SEQR_S3 setting cannot be used; the message names the key and the reason."""


@dataclass(frozen=True)
class AllowedPrefix:
    """One allow-list entry: every key of ``bucket`` that starts with ``key_prefix``."""

    bucket: str
    key_prefix: str

    def covers(self, bucket: str, key: str) -> bool:
        """True when the object lies under this entry."""
        return bucket == self.bucket and key.startswith(self.key_prefix)


@dataclass(frozen=True)
class S3Settings:
    """The validated configuration; field names follow the setting's keys in lower case."""

    mode: str = "accel"
    allowed_prefixes: tuple[AllowedPrefix, ...] = field(default_factory=tuple)
    profile: Optional[str] = None
    region: Optional[str] = None
    endpoint_url: Optional[str] = None
    addressing_style: str = "auto"
    presign_expiry: int = 300
    chunk_size: int = 1024 * 1024
    accel_location: str = "/_seqr_s3_internal/"
    connect_timeout: float = 5
    read_timeout: float = 10
    metadata_timeout: float = 5
    read_attempts: int = 1
    # A forward proxy every S3 request of seqr's boto3 goes through (http://host:port), or None.
    egress_proxy: Optional[str] = None
    # Every request (HEAD, GET, presigned URLs) says the requester pays (x-amz-request-payer: requester).
    requester_pays: bool = False
    # The per-host secret the role's nginx sends in ACCEL_SECRET_HEADER (read from ACCEL_SECRET_FILE).
    accel_secret: Optional[str] = field(default=None, repr=False)

    def is_allowed(self, bucket: str, key: str) -> bool:
        """True when some ALLOWED_PREFIXES entry covers the object; an empty list allows nothing."""
        return any(prefix.covers(bucket, key) for prefix in self.allowed_prefixes)


_KEYS = (
    "MODE",
    "ALLOWED_PREFIXES",
    "PROFILE",
    "REGION",
    "ENDPOINT_URL",
    "ADDRESSING_STYLE",
    "PRESIGN_EXPIRY",
    "CHUNK_SIZE",
    "ACCEL_LOCATION",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "METADATA_TIMEOUT",
    "READ_ATTEMPTS",
    "ACCEL_SECRET_FILE",
    "EGRESS_PROXY",
    "REQUESTER_PAYS",
)
# A hanging store must not hold one of seqr's few sync workers for long: no timeout may exceed these.
MAX_CONNECT_TIMEOUT = 60
MAX_READ_TIMEOUT = 300
MAX_METADATA_TIMEOUT = 60
MAX_READ_ATTEMPTS = 3


def _fail(key: str, reason: str) -> ConfigError:
    return ConfigError(f"{SETTING_NAME}[{key!r}] {reason}")


def _choice(raw: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise _fail(key, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def _optional_text(raw: dict[str, Any], key: str) -> Optional[str]:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, f"must be a non-empty string or None; got {value!r}")
    return value


def _optional_name(raw: dict[str, Any], key: str) -> Optional[str]:
    value = _optional_text(raw, key)
    if value is not None and not _NAME_TOKEN.fullmatch(value):
        raise _fail(key, f"must be one name of letters, digits, '_', '.' or '-' (at most 64); got {value!r}")
    return value


def _number(raw: dict[str, Any], key: str, default: float, low: float, high: float, integer: bool) -> Any:
    value = raw.get(key, default)
    # bool is an int in Python, but True as a timeout is surely a mistake.
    allowed_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed_types):
        kind = "an integer" if integer else "a number"
        raise _fail(key, f"must be {kind}; got {value!r}")
    if not low <= value <= high:
        raise _fail(key, f"must be between {low} and {high}; got {value!r}")
    return value


def _refuse_blanks(key: str, value: str) -> None:
    """Refuse whitespace and control characters: urlsplit drops them silently, ~/.aws/config would not."""
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise _fail(key, f"must not contain whitespace or control characters; got {value!r}")


def _endpoint(raw: dict[str, Any]) -> Optional[str]:
    value = _optional_text(raw, "ENDPOINT_URL")
    if value is None:
        return None
    _refuse_blanks("ENDPOINT_URL", value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail("ENDPOINT_URL", f"must be an http:// or https:// URL with a host; got {value!r}")
    return value


def _egress_proxy(raw: dict[str, Any]) -> Optional[str]:
    """A forward proxy as http(s)://host:port. No credentials in it: settings.py is no place for a secret,
    and boto3 would print the URL in its debug log."""
    value = _optional_text(raw, "EGRESS_PROXY")
    if value is None:
        return None
    _refuse_blanks("EGRESS_PROXY", value)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise _fail("EGRESS_PROXY", f"must be http://host:port of a forward proxy; got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise _fail("EGRESS_PROXY", "must not carry a user or password (settings.py is no place for secrets)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _fail("EGRESS_PROXY", f"must be http://host:port without a path; got {value!r}")
    return value


def _flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise _fail(key, f"must be True or False; got {value!r}")
    return value


def _allowed_prefixes(raw: dict[str, Any]) -> tuple[AllowedPrefix, ...]:
    entries = raw.get("ALLOWED_PREFIXES", [])
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
        raise _fail("ALLOWED_PREFIXES", f"must be a list of 's3://bucket/prefix/' strings; got {entries!r}")
    prefixes = []
    for entry in entries:
        try:
            bucket, key_prefix = split_bucket_and_rest(entry)
        except InvalidS3Path as error:
            raise _fail("ALLOWED_PREFIXES", f"has an invalid entry: {error}") from None
        # Without the trailing slash 's3://b/project1' would also allow 's3://b/project10/...'.
        if key_prefix and not key_prefix.endswith("/"):
            suggestion = entry + "/"
            raise _fail(
                "ALLOWED_PREFIXES", f"entry {entry!r} must end with '/' (a folder), e.g. {suggestion!r}"
            )
        prefixes.append(AllowedPrefix(bucket=bucket, key_prefix=key_prefix))
    return tuple(prefixes)


def _accel_location(raw: dict[str, Any]) -> str:
    value = raw.get("ACCEL_LOCATION", "/_seqr_s3_internal/")
    if not isinstance(value, str) or not value.startswith("/") or not value.endswith("/") or " " in value:
        raise _fail("ACCEL_LOCATION", f"must be a location path like '/_seqr_s3_internal/'; got {value!r}")
    return value


def _accel_secret(raw: dict[str, Any]) -> Optional[str]:
    """The secret the role's nginx sends with every request it proxies to seqr. Without one, no request can
    show it came through nginx, so accel mode answers every read as proxy mode does (checks.W001 says so)."""
    value = raw.get("ACCEL_SECRET_FILE")
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise _fail("ACCEL_SECRET_FILE", f"must be an absolute path or None; got {value!r}")
    try:
        secret = Path(value).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        # The message names the file and the reason, never its content.
        raise _fail("ACCEL_SECRET_FILE", f"cannot be read ({type(error).__name__}): {value}") from None
    if len(secret) < MIN_ACCEL_SECRET_LENGTH or not secret.isalnum():
        raise _fail(
            "ACCEL_SECRET_FILE",
            f"must hold one line of at least {MIN_ACCEL_SECRET_LENGTH} letters and digits: {value}",
        )
    return secret


def parse_settings(raw: Any) -> S3Settings:
    """Validate a SEQR_S3 dict (None: all defaults) and return the typed settings, or raise ConfigError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{SETTING_NAME} must be a dict; got {type(raw).__name__}")
    unknown = sorted(str(key) for key in raw if key not in _KEYS)
    if unknown:
        known = ", ".join(_KEYS)
        raise ConfigError(f"{SETTING_NAME} has unknown keys {', '.join(unknown)}; known keys: {known}")
    mode = _choice(raw, "MODE", MODES, "accel")
    egress_proxy = _egress_proxy(raw)
    if mode == "accel" and egress_proxy is not None:
        raise _fail(
            "EGRESS_PROXY",
            "cannot be used in accel mode: nginx fetches from S3 itself and its proxy_pass cannot go "
            "through a forward proxy; use MODE 'proxy' (seqr streams through the proxy) or 'redirect' "
            "(browsers fetch from S3)",
        )
    return S3Settings(
        mode=mode,
        allowed_prefixes=_allowed_prefixes(raw),
        profile=_optional_name(raw, "PROFILE"),
        region=_optional_name(raw, "REGION"),
        endpoint_url=_endpoint(raw),
        addressing_style=_choice(raw, "ADDRESSING_STYLE", ADDRESSING_STYLES, "auto"),
        presign_expiry=_number(raw, "PRESIGN_EXPIRY", 300, 1, MAX_PRESIGN_EXPIRY, integer=True),
        chunk_size=_number(raw, "CHUNK_SIZE", 1024 * 1024, 1, MAX_CHUNK_SIZE, integer=True),
        accel_location=_accel_location(raw),
        connect_timeout=_number(raw, "CONNECT_TIMEOUT", 5, 0.1, MAX_CONNECT_TIMEOUT, integer=False),
        read_timeout=_number(raw, "READ_TIMEOUT", 10, 0.1, MAX_READ_TIMEOUT, integer=False),
        metadata_timeout=_number(raw, "METADATA_TIMEOUT", 5, 0.1, MAX_METADATA_TIMEOUT, integer=False),
        read_attempts=_number(raw, "READ_ATTEMPTS", 1, 1, MAX_READ_ATTEMPTS, integer=True),
        accel_secret=_accel_secret(raw),
        egress_proxy=egress_proxy,
        requester_pays=_flag(raw, "REQUESTER_PAYS"),
    )


def load_settings() -> S3Settings:
    """Read SEQR_S3 from Django's settings (read on every call: cheap, and tests may override settings)."""
    from django.conf import settings

    return parse_settings(getattr(settings, SETTING_NAME, None))
