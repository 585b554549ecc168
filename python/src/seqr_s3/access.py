"""Decide whether an s3:// path may be served for a project.

seqr's fetch_igv_track only checks that the user may view the project named in the URL, then streams any path
it is given. With one set of S3 credentials for every project that would let a collaborator of one project
read another project's reads, so an s3:// path is served only when it is registered to that project (an
IgvSample's file or index, or an index next to such a file) and lies under an ALLOWED_PREFIXES entry.
"""

from __future__ import annotations

import logging
from typing import Any

from .config import S3Settings
from .memo import ExpiringMemo
from .paths import S3Path

logger = logging.getLogger(__name__)

# igv.js reads one file as an index and then many ranges within seconds; the registration query (a join over
# IgvSample, Individual, Family, Project) is a measurable share of each accel request. A path found
# registered is trusted again for this long in this process; a refusal is never remembered, so a newly
# registered file is served at once and a removed one is refused within this many seconds.
REGISTERED_TTL_SECONDS = 10.0
REGISTERED_CACHE_ENTRIES = 4096
_registrations: ExpiringMemo[tuple[str, str], bool] = ExpiringMemo(REGISTERED_CACHE_ENTRIES)

# Index suffixes igv.js derives from a track's URL: x.bam -> x.bam.bai or x.bai, x.cram -> x.cram.crai or
# x.crai, x.vcf.gz/x.bed.gz -> x.vcf.gz.tbi. Each pair is (index suffix, data suffix it may replace).
_DERIVED_INDEXES = ((".bai", ".bam"), (".crai", ".cram"), (".tbi", None))


# Which rule refused a read: named in the operator's log and the audit line, never in the user's answer.
RULE_ALLOW_LIST = "not_under_allowed_prefixes"
RULE_NO_PROJECT = "no_project"
RULE_NOT_REGISTERED = "not_registered_to_project"

# What a refused user is told, whatever the rule: the same status and body for a path outside the allow-list,
# one not registered to the project, and one that does not exist (no S3 request is made before the checks
# pass), so the answer tells nothing about other projects' files or the bucket's content.
REFUSAL_STATUS = 403
REFUSAL_MESSAGE = "Permission Denied: this path is not an IGV track of this project that seqr may read"


class AccessRefused(Exception):
    """The path may not be served for this request; ``rule`` says which rule refused it, ``detail`` why (for
    operators: logs and the audit trail)."""

    status = REFUSAL_STATUS

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def candidate_sources(requested: str) -> set[str]:
    """The file paths of which ``requested`` would be a derived index (empty when it is no index)."""
    sources = set()
    for index_suffix, data_suffix in _DERIVED_INDEXES:
        if requested.endswith(index_suffix):
            stem = requested[: -len(index_suffix)]
            sources.add(stem)
            if data_suffix is not None:
                sources.add(stem + data_suffix)
    return sources


def is_registered_to_project(project_guid: str, requested: str, remembered: bool = True) -> bool:
    """True when ``requested`` is an IgvSample file/index of the project, or an index derived from a file
    (answered from this process's memory when it was found so less than REGISTERED_TTL_SECONDS ago, unless
    ``remembered`` is false: behind nginx's authorization cache, which keeps grants itself, the database is
    asked every time)."""
    key = (project_guid, requested)
    if remembered and _registrations.get(key):
        return True
    if not _query_registration(project_guid, requested):
        return False
    _registrations.put(key, True, REGISTERED_TTL_SECONDS)
    return True


def forget_registrations() -> None:
    """Drop remembered registrations, so the next check asks the database again."""
    _registrations.clear()


# The registration query needs IgvSample.file_path and the individual -> family -> project chain (seqr has
# had them since 2018); index_file_path is used only where the model has it (seqr from 2024-08): without it,
# indexes are served by the derived-index rule alone.
PROJECT_LOOKUP = "individual__family__project__guid"
INDEX_FIELD = "index_file_path"


def registration_match(requested: str, has_index_field: bool) -> Any:
    """The Q that says an IgvSample registers ``requested``: its file, its index (when the model has the
    field), or a file of which ``requested`` is a derived index."""
    from django.db.models import Q

    matches = Q(file_path=requested)
    if has_index_field:
        matches |= Q(**{INDEX_FIELD: requested})
    sources = candidate_sources(requested)
    if sources:
        matches |= Q(file_path__in=sources)
    return matches


def sample_field_names(igv_sample: Any) -> set[str]:
    """The names of the model's concrete fields and relations."""
    return {field.name for field in igv_sample._meta.get_fields()}


def registration_queryset(project_guid: str, requested: str) -> Any:
    """The IgvSample rows of the project that register ``requested``, built against the model as found."""
    from django.apps import apps

    igv_sample = apps.get_model("seqr", "IgvSample")
    samples = igv_sample.objects.filter(**{PROJECT_LOOKUP: project_guid})
    return samples.filter(registration_match(requested, INDEX_FIELD in sample_field_names(igv_sample)))


def registration_query_problem() -> str | None:
    """Why the registration query cannot run against this seqr's models (None: it compiles).

    Builds the query for a derived index (every branch of it) and compiles it to SQL without executing it, so
    ``manage.py check`` proves it even with no database reachable."""
    from django.db import DatabaseError

    try:
        # Building the filter resolves every lookup against the model (a missing field is a FieldError).
        queryset = registration_queryset("R_seqr_s3_check", "s3://seqr-s3-check/sample.bam.bai")
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    try:
        queryset.query.get_compiler(using=queryset.db).as_sql()
    except DatabaseError:
        return None  # a backend that must ask its server to compile, and no server: the lookups resolved
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _query_registration(project_guid: str, requested: str) -> bool:
    return bool(registration_queryset(project_guid, requested).exists())


def check_allowed(settings: S3Settings, path: S3Path) -> None:
    """Raise AccessRefused unless an ALLOWED_PREFIXES entry covers the object (no S3 request either way)."""
    if not settings.is_allowed(path.bucket, path.key):
        raise AccessRefused(RULE_ALLOW_LIST, f"{path} is not under ALLOWED_PREFIXES")


def check_access(
    settings: S3Settings, project_guid: str | None, requested: str, path: S3Path, remembered: bool = True
) -> None:
    """Raise AccessRefused (and log why) unless the path is allow-listed and registered to the project.

    Nothing here talks to S3: the allow-list is a string match, the registration a database query.
    """
    try:
        check_allowed(settings, path)
        if not project_guid:
            raise AccessRefused(RULE_NO_PROJECT, f"{path}: the request names no project")
        if not is_registered_to_project(project_guid, requested, remembered):
            raise AccessRefused(RULE_NOT_REGISTERED, f"{path} is not an IGV sample path of the project")
    except AccessRefused as refused:
        logger.warning("seqr_s3: refused %s for project %s: %s", path, project_guid, refused.rule)
        raise
