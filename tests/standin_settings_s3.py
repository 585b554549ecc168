"""Settings for the seqr stand-in WITH seqr_s3, made the way the role's managed block changes settings.py:
everything of the stand-in's settings, plus the app in INSTALLED_APPS and the SEQR_S3 dict.

The stand-in itself stays seqr-shaped (no test hooks in its settings.py); tests pick this module through
DJANGO_SETTINGS_MODULE and pass SEQR_S3 as JSON in the SEQR_S3_TEST_CONFIG variable.
"""

import json
import os

from settings import *  # noqa: F403  (the role's block also extends the existing settings in place)
from settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "seqr_s3"]
SEQR_S3 = json.loads(os.environ.get("SEQR_S3_TEST_CONFIG", "{}"))
