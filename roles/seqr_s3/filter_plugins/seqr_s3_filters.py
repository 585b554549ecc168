"""Jinja2 filters for the seqr_s3 role: Content-Security-Policy sources, S3 origins, Python literals.

They are plain functions without Ansible imports on purpose: the role loads them as an Ansible filter plugin,
and the pytest suites register the very same functions in a plain Jinja2 environment to render the role's
templates exactly as Ansible would.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

# CSP keywords must be single-quoted; unquoted they would be read as host names ("self" = a host called self).
CSP_KEYWORDS = frozenset(
    {
        "self",
        "none",
        "unsafe-inline",
        "unsafe-eval",
        "unsafe-hashes",
        "strict-dynamic",
        "report-sample",
        "wasm-unsafe-eval",
        "inline-speculation-rules",
    }
)
_HASH_SOURCE = re.compile(r"^(sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}$")
_NONCE_SOURCE = re.compile(r"^nonce-[A-Za-z0-9+/_-]+={0,2}$")
_SCHEME_SOURCE = re.compile(r"^[a-z][a-z0-9+.-]*:$", re.IGNORECASE)
# host-source: [scheme://]host[:port][/path]; host may start with "*." and port may be "*".
_HOST_SOURCE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])"
    r"(?::(?:\d{1,5}|\*))?(?:/[^\s;,']*)?$",
    re.IGNORECASE,
)
_REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ADDRESSING_STYLES = ("auto", "path", "virtual")


class SeqrS3FilterError(ValueError):
    """Raised for input the filters refuse; the message names the bad value so the play output says why."""


def csp_hash_source(css_text: str, algorithm: str = "sha256") -> str:
    """Return the quoted CSP hash source ("'sha256-…'") of a <style> element's exact text.

    Browsers hash the UTF-8 bytes of the element's text exactly as written, so no stripping or normalising.
    """
    if not isinstance(css_text, str):
        raise SeqrS3FilterError(f"css text must be a string, got {type(css_text).__name__}")
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise SeqrS3FilterError(f"unsupported hash algorithm {algorithm!r} (sha256, sha384, sha512)")
    digest = hashlib.new(algorithm, css_text.encode("utf-8")).digest()
    return f"'{algorithm}-{base64.b64encode(digest).decode('ascii')}'"


def _normalise_csp_source(raw_source: Any) -> str:
    """Quote one source the way CSP wants it, or raise when it could never be a valid source."""
    if not isinstance(raw_source, str):
        raise SeqrS3FilterError(f"CSP source must be a string, got {raw_source!r}")
    source = str(raw_source).strip()
    if not source:
        raise SeqrS3FilterError("CSP source is empty")
    # Whitespace, ';' or ',' inside one entry would smuggle extra sources or directives into the header.
    if re.search(r"[\s;,]", source):
        raise SeqrS3FilterError(f"CSP source {source!r} contains whitespace, ';' or ','")
    bare = source[1:-1] if len(source) >= 2 and source[0] == source[-1] == "'" else source
    if "'" in bare:
        raise SeqrS3FilterError(f"CSP source {source!r} has unbalanced quotes")
    if bare.lower() in CSP_KEYWORDS:
        return f"'{bare.lower()}'"
    if _HASH_SOURCE.match(bare) or _NONCE_SOURCE.match(bare):
        return f"'{bare}'"
    if bare != source:
        raise SeqrS3FilterError(f"CSP source {source!r} is quoted but is not a keyword, hash or nonce")
    if _SCHEME_SOURCE.match(bare) or _HOST_SOURCE.match(bare):
        return bare
    raise SeqrS3FilterError(f"CSP source {source!r} is not a keyword, hash, nonce, scheme or host source")


def csp_sources(*source_lists: Any) -> list[str]:
    """Merge source lists into one de-duplicated, correctly quoted list, first occurrence wins.

    Accepts several lists (or one string) so a template can join the site's defaults and extras in one call.
    """
    merged: list[str] = []
    seen: set[str] = set()
    for source_list in source_lists:
        if source_list is None:
            continue
        entries = [source_list] if isinstance(source_list, str) else list(source_list)
        for entry in entries:
            source = _normalise_csp_source(entry)
            # Host parts are case-insensitive; hashes and nonces are not, so only fold what may be folded.
            key = source if source.startswith("'") else source.lower()
            if key not in seen:
                seen.add(key)
                merged.append(source)
    return merged


def parse_s3_url(s3_url: Any) -> tuple[str, str]:
    """Split "s3://bucket/prefix" into (bucket, prefix).

    Which bucket names and prefixes are allowed is the seqr_s3 package's rule (SEQR_S3's ALLOWED_PREFIXES,
    checked by the role through seqr_s3_settings_errors before any template renders); an origin built from a
    name it would not take is still refused by csp_sources.
    """
    if not isinstance(s3_url, str) or not s3_url.startswith("s3://"):
        raise SeqrS3FilterError(f"{s3_url!r} is not an s3://bucket/... path")
    bucket, _, prefix = str(s3_url)[len("s3://") :].partition("/")
    if not bucket:
        raise SeqrS3FilterError(f"{s3_url!r} names no bucket")
    return bucket, prefix


def _origin_of(endpoint_url: str) -> tuple[str, str]:
    """Return (scheme, host[:port]) of a custom endpoint, refusing URLs that carry more than an origin."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SeqrS3FilterError(f"endpoint URL {endpoint_url!r} must look like https://host[:port]")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise SeqrS3FilterError(f"endpoint URL {endpoint_url!r} must not carry credentials, path or query")
    return parts.scheme, parts.netloc.lower()


def _is_ip_host(netloc: str) -> bool:
    """True for an IP-address endpoint, where a bucket can never be a sub-domain (virtual-hosted style)."""
    host = netloc.rsplit(":", 1)[0] if not netloc.startswith("[") else netloc[1 : netloc.index("]")]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return True


def s3_origins(
    s3_urls: Any,
    endpoint_url: Optional[str] = None,
    region: Optional[str] = None,
    addressing_style: str = "auto",
) -> list[str]:
    """Return the https origins a browser talks to when it follows presigned URLs for these S3 paths.

    Used for connect-src in redirect mode. With style "auto" both forms are listed because botocore picks
    per bucket (dotted names and IP endpoints force path style); one extra allowed origin costs nothing,
    a missing one breaks IGV.
    """
    if addressing_style not in _ADDRESSING_STYLES:
        raise SeqrS3FilterError(f"addressing style {addressing_style!r} is not one of {_ADDRESSING_STYLES}")
    # Only AWS region names have a fixed shape; Ceph and others accept any zone-group name.
    if region and not endpoint_url and not _REGION_NAME.match(str(region)):
        raise SeqrS3FilterError(f"region {region!r} does not look like an AWS region name (e.g. eu-west-1)")
    if isinstance(s3_urls, str):
        s3_urls = [s3_urls]
    origins: list[str] = []
    for s3_url in s3_urls or []:
        bucket, _ = parse_s3_url(s3_url)
        if endpoint_url:
            scheme, netloc = _origin_of(str(endpoint_url))
            hosts = [netloc]
            virtual_possible = "." not in bucket and not _is_ip_host(netloc)
        else:
            scheme = "https"
            hosts = [f"s3.{region}.amazonaws.com"] if region else []
            if not region or region == "us-east-1":
                hosts.append("s3.amazonaws.com")
            # Dotted bucket names break the *.s3 wildcard certificate, so botocore falls back to path style.
            virtual_possible = "." not in bucket
        if addressing_style == "virtual" and not virtual_possible:
            raise SeqrS3FilterError(f"bucket {bucket!r} cannot be addressed virtual-hosted style here")
        if addressing_style in ("auto", "virtual") and virtual_possible:
            origins.extend(f"{scheme}://{bucket}.{host}" for host in hosts)
        if addressing_style in ("auto", "path"):
            origins.extend(f"{scheme}://{host}" for host in hosts)
    return csp_sources(origins)


def python_literal(value: Any) -> str:
    """Render a YAML value as Python source for settings.py (None, bools, numbers, strings, lists, dicts).

    repr() of the plain built-in types is valid Python; anything else (objects, sets) is refused rather than
    written into seqr's settings as something that might not compile.
    """
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, Mapping):
        items = ", ".join(f"{python_literal(str(key))}: {python_literal(val)}" for key, val in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    raise SeqrS3FilterError(f"cannot write {type(value).__name__} {value!r} into settings.py")


def nginx_resolvers(nameservers: Iterable[Any]) -> list[str]:
    """Turn resolv.conf nameserver entries into nginx `resolver` arguments (IPv6 in brackets, no zone ids)."""
    resolvers: list[str] = []
    for nameserver in nameservers or []:
        text = str(nameserver).strip()
        # nginx cannot use a link-local address with a zone id (fe80::1%eth0); skip it rather than fail.
        if not text or "%" in text:
            continue
        try:
            address = ipaddress.ip_address(text.strip("[]"))
        except ValueError as error:
            raise SeqrS3FilterError(f"nameserver {text!r} is not an IP address") from error
        formatted = f"[{address}]" if address.version == 6 else str(address)
        if formatted not in resolvers:
            resolvers.append(formatted)
    return resolvers


def redact(text: Any, secret: Any, placeholder: str = "<hidden>") -> str:
    """Return ``text`` with ``secret`` and each of its parts (split at whitespace and '=') replaced.

    For messages built from a command's output where the command line held a secret (pip's --index-url with a
    token): pip echoes URLs, so every part long enough to be one is hidden, not only the whole string.
    """
    result = "" if text is None else str(text)
    secret_text = "" if secret is None else str(secret)
    parts = {secret_text.strip(), *re.split(r"[\s=]+", secret_text)}
    # Longest first, so a part that contains another is replaced whole.
    for part in sorted((part for part in parts if len(part) >= 4), key=len, reverse=True):
        result = result.replace(part, placeholder)
    return result


def settings_errors(settings: Any, package_path: Any) -> list[str]:
    """Validate a SEQR_S3 dict with the seqr_s3 package's own rules; return its errors (empty when valid).

    ``package_path`` is what Python would put on sys.path to import the package: its source folder (the one
    holding seqr_s3/) or a built wheel (imported through zipimport). The package is imported from exactly that
    path, apart from any seqr_s3 already imported in this process, and put away again afterwards, so the role
    judges with the rules of the package it is about to install. seqr_s3.config imports no Django.
    """
    location = str(package_path)
    # A wheel is imported from a copy in a scratch folder: inside an installed collection, Ansible's
    # collection loader answers for every path under ansible_collections/ and cannot import a zip file there.
    with tempfile.TemporaryDirectory(prefix="seqr_s3_validate_") as scratch:
        import_root = location
        if os.path.isfile(location):
            import_root = os.path.join(scratch, os.path.basename(location))
            shutil.copyfile(location, import_root)
        return _settings_errors_from(settings, import_root, location)


def _settings_errors_from(settings: Any, import_root: str, location: str) -> list[str]:
    saved_modules = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "seqr_s3"}
    saved_path = list(sys.path)
    for name in saved_modules:
        del sys.modules[name]
    sys.path.insert(0, import_root)
    try:
        try:
            import seqr_s3.config as package_config
        except ImportError as error:
            raise SeqrS3FilterError(f"cannot import seqr_s3.config from {location!r}: {error}") from error
        origin = str(getattr(package_config, "__file__", ""))
        if not origin.startswith(import_root.rstrip("/") + "/"):
            raise SeqrS3FilterError(f"seqr_s3.config came from {origin!r}, not from {location!r}")
        try:
            package_config.parse_settings(dict(settings) if isinstance(settings, Mapping) else settings)
        except package_config.ConfigError as error:
            return [str(error)]
        return []
    finally:
        sys.path[:] = saved_path
        for name in [name for name in sys.modules if name.split(".")[0] == "seqr_s3"]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _distribution_key(name: str) -> str:
    """A distribution name as packaging normalises it (PEP 503): case and runs of - _ . do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_wheels(wanted: Any, wheel_files: Iterable[Any], only_projects_present: bool = False) -> list[str]:
    """Return "name==version" for each entry of ``wanted`` (name -> version) with no wheel in ``wheel_files``.

    ``wheel_files`` are wheel file names or paths (``name-version-...whl``). With ``only_projects_present``,
    a name with no wheel at any version is not missing: pip without an index cannot replace it, so only
    projects the wheelhouse holds at some other version matter.
    """
    if not isinstance(wanted, Mapping):
        raise SeqrS3FilterError(f"missing_wheels wants name -> version, not {type(wanted).__name__}")
    available: dict[str, set[str]] = {}
    for wheel_file in wheel_files:
        parts = os.path.basename(str(wheel_file)).split("-")
        if len(parts) >= 5 and parts[-1].endswith(".whl"):
            available.setdefault(_distribution_key(parts[0]), set()).add(parts[1])
    missing = []
    for name, version in sorted(wanted.items(), key=lambda item: _distribution_key(str(item[0]))):
        versions = available.get(_distribution_key(str(name)))
        if versions is None and only_projects_present:
            continue
        if str(version) not in (versions or set()):
            missing.append(f"{name}=={version}")
    return missing


def versions_after_removal(installed: Any, before: Any, added: Iterable[Any]) -> dict[str, str]:
    """Return name -> version for each package seqr's virtualenv keeps once ``seqr_s3_state: absent`` has run.

    ``installed`` is the virtualenv now, ``before`` the role's record from before its first install and
    ``added`` the packages that install brought in. Removal uninstalls the added ones and seqr_s3, and puts
    back the recorded version of any other package the role's installs replaced.
    """
    if not isinstance(installed, Mapping) or not isinstance(before, Mapping):
        raise SeqrS3FilterError(
            "versions_after_removal wants name -> version for the virtualenv and its record"
        )
    uninstalled = {_distribution_key(str(name)) for name in added} | {"seqr-s3"}
    return {
        name: str(before.get(name, version))
        for name, version in installed.items()
        if _distribution_key(str(name)) not in uninstalled
    }


FILTERS: dict[str, Callable[..., Any]] = {
    "seqr_s3_csp_hash": csp_hash_source,
    "seqr_s3_csp_sources": csp_sources,
    "seqr_s3_origins": s3_origins,
    "seqr_s3_python_literal": python_literal,
    "seqr_s3_nginx_resolvers": nginx_resolvers,
    "seqr_s3_settings_errors": settings_errors,
    "seqr_s3_redact": redact,
    "seqr_s3_missing_wheels": missing_wheels,
    "seqr_s3_versions_after_removal": versions_after_removal,
}


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Return the filters under role-prefixed names so they cannot shadow other plugins' filters."""
        return dict(FILTERS)
