"""The read audit trail: one JSON line per S3 read decision, on the logger ``seqr_s3.audit``.

Hospitals must be able to say who read which patient's reads. Every decision about an s3:// path (an IGV
track request, seqr's does_file_exist and file_iter) is logged as one line of JSON at INFO, whether it was
allowed or refused and by which rule. The line holds the path (``s3://bucket/key``), never a presigned URL,
signature or credential; values that come from the client (the Range header) are cut to a bounded length and
JSON-escaped, so a line cannot be split or forged.

Fields: ``time`` (UTC, ISO 8601), ``event`` ("s3_read"), ``source`` (igv_track, does_file_exist, file_iter),
``user`` / ``user_id`` / ``user_email`` (when known), ``project``, ``path`` (as asked), ``object`` (what is
read after the .bam.bai -> .bai fallback), ``method``, ``range`` (the client's), ``served_range`` (what seqr
hands on: accel's canonical range for nginx, proxy's Content-Range), ``mode``, ``decision`` (allowed or
refused), ``rule`` (which rule refused), ``status`` (the HTTP status seqr answered; for does_file_exist the
result), ``grant_seconds`` (how long the decision can be used without asking seqr again: the presigned URL's
life in redirect mode, nginx's TTL for an authorize-once grant, whose line stands for every range nginx reads
meanwhile, else 0).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Optional

AUDIT_LOGGER_NAME = "seqr_s3.audit"
audit_logger = logging.getLogger(AUDIT_LOGGER_NAME)

ALLOWED = "allowed"
REFUSED = "refused"
# Rules that are not access rules but still end a decision.
RULE_INVALID_PATH = "invalid_path"
RULE_CONFIGURATION = "invalid_configuration"
# The longest client-supplied value kept in a line.
MAX_CLIENT_VALUE = 200


def _client_value(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    return value[:MAX_CLIENT_VALUE]


def user_fields(user: Any) -> dict[str, Any]:
    """Who asked: seqr's username, id and email, or nothing for anonymous and unknown callers."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"user": None}
    return {
        "user": getattr(user, "username", None),
        "user_id": getattr(user, "pk", None),
        "user_email": getattr(user, "email", None) or None,
    }


class AuditRecord:
    """One decision being made; ``emit()`` writes it once."""

    def __init__(self, source: str, path: str, user: Any = None, **fields: Any) -> None:
        self.fields: dict[str, Any] = {
            "event": "s3_read",
            "source": source,
            **user_fields(user),
            "path": path,
            "decision": None,
            "rule": None,
        }
        self.fields.update(fields)
        self._emitted = False

    def set(self, **fields: Any) -> None:
        self.fields.update(fields)

    def refuse(self, rule: str) -> None:
        self.fields.update(decision=REFUSED, rule=rule)

    def allow(self, **fields: Any) -> None:
        self.fields.update(decision=ALLOWED, rule=None, **fields)

    def emit(self, **fields: Any) -> None:
        if self._emitted:
            return
        self._emitted = True
        self.fields.update(fields)
        line = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **self.fields}
        audit_logger.info(json.dumps(line, ensure_ascii=False, default=str), extra={"seqr_s3_audit": line})


def request_fields(request: Any) -> dict[str, Any]:
    """The request's method and Range header (client values, bounded)."""
    meta = getattr(request, "META", {})
    return {
        "method": getattr(request, "method", None),
        "range": _client_value(meta.get("HTTP_RANGE")),
    }
