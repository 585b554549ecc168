"""``manage.py seqr_s3_audit [--project GUID] [--json] [--limit N]``: will seqr's s3:// IGV tracks load?

For operators: every IgvSample whose file (or index file) is an ``s3://`` path, in all projects or one, is
checked the way a browser will need it: under the SEQR_S3 allow-list, the object there (HEAD), its index where
igv.js will ask for it (the sample's index_file_path when set, else ``x.bam.bai``/``x.bai`` for a BAM and
``x.cram.crai`` for a CRAM), and its first byte readable with seqr's own configuration and
credentials. A table for people, ``--json`` for machines; the exit status is 0 only when every sample is fine.

S3 is asked with a client of this command's own (seqr's configuration, but one attempt and short timeouts), at
most MAX_S3_REQUESTS_PER_SAMPLE requests per sample and --limit samples per run; a path outside the allow-list
is never requested, and once the endpoint cannot be reached nothing more is asked of it. Object bytes are
read and dropped, never printed; nothing is presigned.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from django.core.management.base import BaseCommand, CommandError, CommandParser

from seqr_s3 import s3
from seqr_s3.config import ConfigError, S3Settings, load_settings
from seqr_s3.management.commands.seqr_s3_check import describe_configuration
from seqr_s3.paths import S3_SCHEME, InvalidS3Path, S3Path, is_s3_path, parse_s3_path

DEFAULT_LIMIT = 500
MAX_LIMIT = 100_000
# HEAD and a one-byte GET of the file, then at most two HEADs for its index.
MAX_S3_REQUESTS_PER_SAMPLE = 4
# An audit must end in bounded time even against a store that hangs: these cap SEQR_S3's own timeouts.
AUDIT_CONNECT_TIMEOUT = 3.0
AUDIT_READ_TIMEOUT = 10.0
AUDIT_RETRIES = {"total_max_attempts": 1, "mode": "standard"}
# Where the index of a file registered without index_file_path is looked for: x.bam.bai then x.bai (igv.js
# asks for x.bam.bai, seqr answers it with x.bai when only that exists); x.cram.crai only (igv.js asks for it
# and seqr has no fallback for CRAM indexes, so an x.crai alone would not load).
IMPLICIT_INDEXES = ((".bam", (".bam.bai", ".bai")), (".cram", (".cram.crai",)))

EXIT_PROBLEMS = 1
EXIT_CANNOT_RUN = 2

# Cell and JSON values; "-" means not checked because an earlier step already failed or made it pointless.
OK = "ok"
MISSING = "missing"
DENIED = "denied"
UNREACHABLE = "unreachable"
ERROR = "error"
OUTSIDE = "outside"
INVALID = "invalid"
NOT_CHECKED = "-"


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}, got {number}")
    return number


@dataclass
class SampleAudit:
    """What the audit found for one IgvSample; ``problems`` is empty when igv.js will load it."""

    project: str
    individual: str
    sample: str
    sample_type: str
    path: str
    index_path: Optional[str] = None
    allowed: Optional[bool] = None
    object: str = NOT_CHECKED
    size: Optional[int] = None
    index: str = NOT_CHECKED
    read: str = NOT_CHECKED
    s3_requests: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass(frozen=True)
class Answer:
    """One S3 request's outcome: a state (ok, missing, denied, unreachable, error), the response, why not."""

    state: str
    response: Any = None
    reason: str = ""


class Prober:
    """Asks S3 for this command: its own client, a budget of requests per sample, no more requests once the
    endpoint proved unreachable."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.client = _audit_client(settings)
        self.unreachable = False

    def head(self, row: SampleAudit, path: S3Path) -> Answer:
        """HEAD one object."""
        return self._ask(row, path, lambda: self.client.head_object(Bucket=path.bucket, Key=path.key))

    def first_byte(self, row: SampleAudit, path: S3Path) -> Answer:
        """GET byte 0 and read it (to drop it): the response is the number of bytes that came."""

        def read() -> int:
            response = self.client.get_object(Bucket=path.bucket, Key=path.key, Range="bytes=0-0")
            body = response["Body"]
            try:
                return len(body.read())
            finally:
                body.close()

        return self._ask(row, path, read)

    def _ask(self, row: SampleAudit, path: S3Path, request: Any) -> Answer:
        from botocore.exceptions import (
            ConnectionClosedError,
            EndpointConnectionError,
            ProxyConnectionError,
            SSLError,
        )

        if self.unreachable:
            return Answer(UNREACHABLE, reason="not asked: the S3 endpoint could not be reached earlier")
        if row.s3_requests >= MAX_S3_REQUESTS_PER_SAMPLE:
            raise RuntimeError(f"bug: over {MAX_S3_REQUESTS_PER_SAMPLE} S3 requests for one sample ({path})")
        row.s3_requests += 1
        try:
            return Answer(OK, request())
        except Exception as error:  # botocore, urllib3 while reading the body: all mapped, none re-raised
            mapped = s3.translate_error(error, path, "read")
            # A TLS failure (or a proxy that refuses) is the endpoint's, not this object's: stop asking too.
            unreachable = isinstance(
                error, (EndpointConnectionError, ConnectionClosedError, ProxyConnectionError, SSLError)
            )
        if unreachable or isinstance(mapped, s3.S3Timeout):
            self.unreachable = True
            endpoint = self.settings.endpoint_url or "AWS default"
            return Answer(UNREACHABLE, reason=f"{mapped} (endpoint {endpoint}; nothing more is asked of it)")
        if isinstance(mapped, s3.S3NotFound):
            return Answer(MISSING, reason=str(mapped))
        if isinstance(mapped, s3.S3AccessDenied):
            return Answer(DENIED, reason=str(mapped))
        return Answer(ERROR, reason=str(mapped))


def _audit_client(settings: S3Settings) -> Any:
    """A client built like seqr's shared one (endpoint, signature, addressing, credentials), but with one
    attempt and capped timeouts; seqr's own client is left as it is."""
    from botocore.config import Config

    config = s3.get_client(settings).meta.config.merge(
        Config(
            connect_timeout=min(settings.connect_timeout, AUDIT_CONNECT_TIMEOUT),
            read_timeout=min(settings.read_timeout, AUDIT_READ_TIMEOUT),
            retries=AUDIT_RETRIES,
        )
    )
    # The same egress proxy (in the merged config), CA bundle (the profile's) and requester-pays flag.
    return s3.new_client(settings, config)


def _implicit_index_paths(file_path: str) -> list[str]:
    for suffix, index_suffixes in IMPLICIT_INDEXES:
        if file_path.endswith(suffix):
            stem = file_path[: -len(suffix)]
            return [stem + index_suffix for index_suffix in index_suffixes]
    return []


class Command(BaseCommand):
    """Audit the s3:// IGV tracks seqr knows; exit 1 when any of them will not load, 2 when it cannot run."""

    help = (
        "Check every IgvSample with an s3:// path (or those of one project): under SEQR_S3 ALLOWED_PREFIXES, "
        "object present, index where igv.js looks, first byte readable with seqr's credentials."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--project, --json, --limit."""
        parser.add_argument("--project", metavar="GUID", help="only this project's samples")
        parser.add_argument("--json", action="store_true", help="one JSON document instead of the table")
        parser.add_argument(
            "--limit",
            type=_limit,
            default=DEFAULT_LIMIT,
            help=f"check at most this many samples (default {DEFAULT_LIMIT}); more make the audit fail",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Audit, print, and fail when anything is wrong or was left unchecked."""
        try:
            settings = load_settings()
        except ConfigError as error:
            raise CommandError(f"SEQR_S3 is invalid: {error}", returncode=EXIT_CANNOT_RUN) from None
        samples, total = _select_samples(options["project"], options["limit"])
        try:
            prober = Prober(settings)
        except s3.S3Error as error:
            raise CommandError(str(error), returncode=EXIT_CANNOT_RUN) from None
        rows = [_audit_sample(prober, settings, sample) for sample in samples]
        not_checked = total - len(rows)
        failing = sum(1 for row in rows if not row.ok)
        report = {
            "configuration": describe_configuration(settings),
            "project": options["project"],
            "limit": options["limit"],
            "samples_total": total,
            "samples_checked": len(rows),
            "samples_not_checked": not_checked,
            "samples_with_problems": failing,
            "ok": not failing and not not_checked,
            "samples": [row.as_json() for row in rows],
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._print_table(report, rows)
        if failing or not_checked:
            reasons = [f"{failing} of {len(rows)} sample(s) have problems"] if failing else []
            if not_checked:
                reasons.append(f"{not_checked} sample(s) not checked (--limit {options['limit']})")
            raise CommandError("; ".join(reasons), returncode=EXIT_PROBLEMS)

    def _print_table(self, report: dict[str, Any], rows: list[SampleAudit]) -> None:
        self.stdout.write(report["configuration"])
        header = ("RESULT", "PROJECT", "SAMPLE", "ALLOWED", "OBJECT", "INDEX", "READ", "PATH")
        allowed = {True: "yes", False: "no", None: NOT_CHECKED}
        table = [header] + [
            (
                "OK" if row.ok else "PROBLEM",
                row.project,
                row.sample,
                allowed[row.allowed],
                row.object,
                row.index,
                row.read,
                row.path,
            )
            for row in rows
        ]
        widths = [max(len(line[column]) for line in table) for column in range(len(header) - 1)]
        for line in table:
            cells = [cell.ljust(width) for cell, width in zip(line, widths)]
            self.stdout.write("  ".join([*cells, line[-1]]))
        for row in rows:
            for problem in row.problems:
                self.stdout.write(f"{row.project} {row.sample}: {problem}")
        summary = (
            f"{report['samples_checked']} sample(s) checked, {report['samples_with_problems']} with problems"
        )
        if report["samples_not_checked"]:
            summary += f", {report['samples_not_checked']} not checked (--limit {report['limit']})"
        self.stdout.write(summary)


def _select_samples(project: Optional[str], limit: int) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` IgvSample rows with an s3:// file (or index) path, and how many there are."""
    from django.apps import apps
    from django.db.models import Q

    try:
        igv_sample = apps.get_model("seqr", "IgvSample")
        project_model = apps.get_model("seqr", "Project")
    except LookupError:
        raise CommandError("this is not seqr: no seqr.IgvSample model", returncode=EXIT_CANNOT_RUN) from None
    # seqr before 2024-08 has no index_file_path: its samples are audited by their file path alone.
    has_index_field = any(column.name == "index_file_path" for column in igv_sample._meta.get_fields())
    on_s3 = Q(file_path__startswith=S3_SCHEME)
    if has_index_field:
        on_s3 |= Q(index_file_path__startswith=S3_SCHEME)
    query = igv_sample.objects.filter(on_s3)
    if project is not None:
        if not project_model.objects.filter(guid=project).exists():
            raise CommandError(f"there is no seqr project with guid {project!r}", returncode=EXIT_CANNOT_RUN)
        query = query.filter(individual__family__project__guid=project)
    columns = ["guid", "sample_type", "file_path", "individual__guid", "individual__family__project__guid"]
    if has_index_field:
        columns.append("index_file_path")
    query = query.order_by("individual__family__project__guid", "individual__guid", "guid").values(*columns)
    return list(query[:limit]), query.count()


def _audit_sample(prober: Prober, settings: S3Settings, sample: dict[str, Any]) -> SampleAudit:
    row = SampleAudit(
        project=sample["individual__family__project__guid"],
        individual=sample["individual__guid"],
        sample=sample["guid"],
        sample_type=sample["sample_type"],
        path=sample["file_path"],
        index_path=sample.get("index_file_path") or None,
    )
    target = None
    if is_s3_path(row.path):
        target, verdict = _allowed_target(row, settings, row.path, "file")
        row.allowed = {OK: True, OUTSIDE: False}.get(verdict)
        if target is None:
            row.object = INVALID if verdict == INVALID else NOT_CHECKED
        else:
            _check_object(prober, row, target)
    else:
        row.object = "not on S3"
    if row.index_path is not None:
        _check_explicit_index(prober, settings, row)
    elif target is not None:
        _check_implicit_index(prober, settings, row)
    return row


def _allowed_target(
    row: SampleAudit, settings: S3Settings, value: str, what: str
) -> tuple[Optional[S3Path], str]:
    """The S3Path to ask for and OK, or None and why not (INVALID, OUTSIDE), the problem noted in the row."""
    try:
        path = parse_s3_path(value)
    except InvalidS3Path as error:
        row.problems.append(f"{what}: {error}")
        return None, INVALID
    if not settings.is_allowed(path.bucket, path.key):
        row.problems.append(
            f"{what}: {value} is outside SEQR_S3 ALLOWED_PREFIXES, so seqr refuses it (not requested)"
        )
        return None, OUTSIDE
    return path, OK


def _check_object(prober: Prober, row: SampleAudit, path: S3Path) -> None:
    answer = prober.head(row, path)
    row.object = answer.state
    if answer.state != OK:
        row.problems.append(f"file: {answer.reason}")
        return
    row.size = int(answer.response["ContentLength"])
    if row.size == 0:
        row.read = "empty"
        row.problems.append("file: the object is empty (0 bytes)")
        return
    answer = prober.first_byte(row, path)
    if answer.state != OK:
        row.read = answer.state
        row.problems.append(f"file: HEAD worked but reading its first byte failed: {answer.reason}")
    elif answer.response != 1:
        row.read = ERROR
        row.problems.append(f"file: asked S3 for its first byte, got {answer.response} bytes")
    else:
        row.read = OK


def _check_explicit_index(prober: Prober, settings: S3Settings, row: SampleAudit) -> None:
    """The sample's index_file_path: igv.js asks for exactly that."""
    value = row.index_path or ""
    if not is_s3_path(value):
        row.index = "not on S3"
        return
    path, verdict = _allowed_target(row, settings, value, "index")
    if path is None:
        row.index = verdict
        if verdict == OUTSIDE:
            row.allowed = False
        return
    answer = prober.head(row, path)
    row.index = answer.state
    if answer.state != OK:
        row.problems.append(f"index: {answer.reason}")


def _check_implicit_index(prober: Prober, settings: S3Settings, row: SampleAudit) -> None:
    """No index_file_path: the names igv.js and seqr try, in their order, until one exists."""
    candidates = _implicit_index_paths(row.path)
    if not candidates:
        row.index = "n/a"
        return
    for candidate in candidates:
        path, verdict = _allowed_target(row, settings, candidate, "index")
        if path is None:
            row.index = verdict
            return
        answer = prober.head(row, path)
        if answer.state == OK:
            row.index = OK
            row.index_path = candidate
            return
        if answer.state != MISSING:
            row.index = answer.state
            row.problems.append(f"index: {answer.reason}")
            return
    row.index = MISSING
    row.problems.append(f"index: none found; igv.js looks for {' or '.join(candidates)}")
