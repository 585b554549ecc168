"""Settings for the seqr stand-in WITH seqr_s3, made the way the role's managed block changes settings.py:
everything of the stand-in's settings, plus the app in INSTALLED_APPS and the SEQR_S3 dict.

The stand-in itself stays seqr-shaped (no test hooks in its settings.py); tests pick this module through
DJANGO_SETTINGS_MODULE and pass SEQR_S3 as JSON in the SEQR_S3_TEST_CONFIG variable.
"""

import json
import os

from settings import *  # noqa: F403  (the role's block also extends the existing settings in place)
from settings import INSTALLED_APPS, LOGGING

INSTALLED_APPS = [*INSTALLED_APPS, "seqr_s3"]
SEQR_S3 = json.loads(os.environ.get("SEQR_S3_TEST_CONFIG", "{}"))

# The read audit trail (logger seqr_s3.audit: one JSON line per S3 read decision) to its own file when a test
# names one, the way an operator ships it to a SIEM: only the message (already JSON), not passed on to the
# console as well.
if os.environ.get("SEQR_S3_AUDIT_LOG"):
    LOGGING = {
        **LOGGING,
        "formatters": {"audit_json": {"format": "%(message)s"}},
        "handlers": {
            **LOGGING["handlers"],
            "seqr_s3_audit": {
                "class": "logging.FileHandler",
                "filename": os.environ["SEQR_S3_AUDIT_LOG"],
                "formatter": "audit_json",
            },
        },
        "loggers": {
            **LOGGING["loggers"],
            "seqr_s3.audit": {"handlers": ["seqr_s3_audit"], "level": "INFO", "propagate": False},
        },
    }
