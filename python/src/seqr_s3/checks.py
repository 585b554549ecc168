"""Django system checks: make ``manage.py check`` fail, naming the cause, when seqr_s3 cannot work here.

The patch must never stop serving S3 silently after a seqr upgrade, so every precondition is a check:
E001 a patch target is missing, E002 it lacks (or moved) a parameter the patch relies on, E003 boto3 is
missing, E004 the SEQR_S3 setting is invalid, E005 the targets look right but are not patched (the app's
ready() did not run it), E006 the registration query every s3:// read makes cannot be built against this
seqr's IgvSample model (compiled to SQL, not executed: no database is needed).
W001: accel mode without ACCEL_SECRET_FILE answers every read as proxy mode does (nothing proves a request
came through the role's nginx, so no presigned URL is handed out).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .access import registration_query_problem
from .config import ConfigError, load_settings
from .patch import TARGETS, find_problems, is_patched


@register()
def check_seqr_s3(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Run every seqr_s3 precondition check."""
    errors: list[CheckMessage] = [
        Error(problem.message, hint=problem.hint, id=problem.check_id, obj="seqr_s3")
        for problem in find_problems()
    ]
    query_problem = registration_query_problem()
    if query_problem is not None:
        errors.append(
            Error(
                "seqr_s3 cannot build its IGV sample registration query on this seqr's models: "
                f"{query_problem}",
                hint="every s3:// read checks that the path is an IgvSample of the project; update seqr_s3",
                id="seqr_s3.E006",
                obj="seqr_s3",
            )
        )
    if importlib.util.find_spec("boto3") is None:
        errors.append(
            Error(
                "seqr_s3 needs boto3, which is not installed in this Python environment",
                hint="pip install boto3 into seqr's virtualenv (the Ansible role does this)",
                id="seqr_s3.E003",
                obj="seqr_s3",
            )
        )
    try:
        settings = load_settings()
    except ConfigError as error:
        errors.append(
            Error(
                f"seqr_s3 configuration is invalid: {error}",
                hint="fix SEQR_S3 in settings.py",
                id="seqr_s3.E004",
                obj="seqr_s3",
            )
        )
    else:
        if settings.mode == "accel" and settings.accel_secret is None:
            errors.append(
                Warning(
                    "seqr_s3 is in accel mode without ACCEL_SECRET_FILE: every read is streamed by gunicorn",
                    hint="point SEQR_S3['ACCEL_SECRET_FILE'] at the secret nginx sends (the role does)",
                    id="seqr_s3.W001",
                    obj="seqr_s3",
                )
            )
    if not any(message.is_serious() for message in errors):
        unpatched = [f"{t.module}.{t.name}" for t in TARGETS if not is_patched(t.module, t.name)]
        if unpatched:
            errors.append(
                Error(
                    f"seqr_s3 is installed but these functions are not patched: {', '.join(unpatched)}",
                    hint="add 'seqr_s3' to INSTALLED_APPS so its AppConfig.ready() applies the patch",
                    id="seqr_s3.E005",
                    obj="seqr_s3",
                )
            )
    return errors
