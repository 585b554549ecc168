"""Serve IGV reads from S3 in seqr: s3:// paths, RFC 9110 range responses and the patch that wires them in."""

import sys
from importlib import metadata

# The installed distribution's version (python/pyproject.toml is its only source); a source tree imported
# without installing it has none.
try:
    __version__ = metadata.version("seqr_s3")
except metadata.PackageNotFoundError:
    __version__ = "unknown (not installed)"

# Django before 3.2 (seqr until 2022) uses an app's AppConfig only when the package names it, and without it
# ready() never runs: no patch and no system checks. Django is not imported here (seqr_s3.config must import
# without it); when Django reads INSTALLED_APPS it is already loaded. Later Django finds apps.py itself.
_django = sys.modules.get("django")
if _django is not None and getattr(_django, "VERSION", (99,)) < (3, 2):
    default_app_config = "seqr_s3.apps.SeqrS3Config"
