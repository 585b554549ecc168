"""The audit line's shape: one JSON line whatever the client sends, and who asked when it is known."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from seqr_s3.audit import AUDIT_LOGGER_NAME, MAX_CLIENT_VALUE, AuditRecord, request_fields, user_fields


def test_a_forged_range_stays_inside_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    forged = 'bytes=0-1\n{"decision": "allowed"}' + "x" * 1000
    request = SimpleNamespace(method="GET", META={"HTTP_RANGE": forged})
    record = AuditRecord("igv_track", "s3://b/k.bam", None, **request_fields(request))
    record.refuse("not_registered_to_project")
    with caplog.at_level(logging.INFO, logger=AUDIT_LOGGER_NAME):
        record.emit(status=403)
        record.emit(status=200)  # a decision is written once
    (message,) = [r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER_NAME]
    assert "\n" not in message
    line = json.loads(message)
    assert line["range"] == forged[:MAX_CLIENT_VALUE]
    assert (line["decision"], line["rule"], line["status"], line["user"]) == (
        "refused",
        "not_registered_to_project",
        403,
        None,
    )


def test_user_fields() -> None:
    anonymous = SimpleNamespace(is_authenticated=False, username="", pk=None, email="")
    assert user_fields(anonymous) == {"user": None}
    assert user_fields(None) == {"user": None}
    user = SimpleNamespace(is_authenticated=True, username="u1", pk=7, email="u1@example.org")
    assert user_fields(user) == {"user": "u1", "user_id": 7, "user_email": "u1@example.org"}
