"""``manage.py seqr_s3_check s3://bucket/key ...``: can this host, as configured, read these objects?

For operators after deploying: it uses exactly the configuration and credentials seqr's workers use, does a
HEAD and reads a first range, and says which step failed and why. It checks the allow-list but not IgvSample
registration (that depends on the project of each request).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from seqr_s3 import __version__, s3
from seqr_s3.config import ConfigError, S3Settings, load_settings
from seqr_s3.paths import InvalidS3Path, parse_s3_path

FIRST_RANGE_BYTES = 65536


def describe_configuration(settings: S3Settings) -> str:
    """Name the installed seqr_s3 and the configuration in use (never a secret), so a stale install, a
    wrong endpoint or profile is obvious."""
    source = s3.credential_source(settings)
    return (
        f"seqr_s3 {__version__} mode={settings.mode} endpoint={settings.endpoint_url or 'AWS default'} "
        f"region={settings.region or 'from boto3 chain'} profile={settings.profile or 'default chain'} "
        f"addressing={settings.addressing_style} credentials={source}"
        f" egress_proxy={settings.egress_proxy or 'none'}"
        f" requester_pays={'yes' if settings.requester_pays else 'no'}"
    )


class Command(BaseCommand):
    """Check S3 read access for one or more s3:// paths; exits non-zero when any of them cannot be read."""

    help = (
        "Check that this host's SEQR_S3 configuration can read the given s3:// objects (HEAD, first range)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """One or more s3:// paths."""
        parser.add_argument("paths", nargs="+", metavar="s3://bucket/key")

    def handle(self, *args: Any, **options: Any) -> None:
        """Check each path, print one verdict line per path, fail if any failed."""
        try:
            settings = load_settings()
        except ConfigError as error:
            raise CommandError(f"SEQR_S3 is invalid: {error}") from None
        self.stdout.write(describe_configuration(settings))
        failures = 0
        for value in options["paths"]:
            verdict = self._check_one(settings, value)
            if verdict is None:
                continue
            failures += 1
            self.stderr.write(f"FAIL {value}: {verdict}")
        if failures:
            raise CommandError(f"{failures} of {len(options['paths'])} path(s) cannot be read")

    def _check_one(self, settings: S3Settings, value: str) -> str | None:
        """Return None when the object can be read, otherwise why not."""
        try:
            path = parse_s3_path(value)
        except InvalidS3Path as error:
            return str(error)
        if not settings.is_allowed(path.bucket, path.key):
            entries = [f"s3://{prefix.bucket}/{prefix.key_prefix}" for prefix in settings.allowed_prefixes]
            allowed = ", ".join(entries) or "none"
            return f"not under any SEQR_S3 ALLOWED_PREFIXES entry (allowed: {allowed}); seqr would refuse it"
        try:
            info = s3.head_object(settings, path)
        except s3.S3Error as error:
            return f"HEAD failed with HTTP {error.status}: {error}"
        if info.size == 0:
            self.stdout.write(f"OK {value}: exists, 0 bytes (nothing to read)")
            return None
        last = min(info.size, FIRST_RANGE_BYTES) - 1
        try:
            response = s3.get_object(settings, path, range_header=f"bytes=0-{last}")
            body = response["Body"]
            try:
                got = len(body.read())
            finally:
                body.close()
        except s3.S3Error as error:
            return f"HEAD worked but reading bytes 0-{last} failed with HTTP {error.status}: {error}"
        except Exception as error:
            mapped = s3.translate_error(error, path, "read")
            return f"HEAD worked but reading bytes 0-{last} broke off: {mapped}"
        if got != last + 1:
            return f"asked for {last + 1} bytes, got {got}"
        self.stdout.write(f"OK {value}: {info.size} bytes, etag {info.etag}, first {got} bytes read")
        return None
