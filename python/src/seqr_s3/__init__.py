"""Serve IGV reads from S3 in seqr: s3:// paths, RFC 9110 range responses and the patch that wires them in."""

from importlib import metadata

# The installed distribution's version (python/pyproject.toml is its only source); a source tree imported
# without installing it has none.
try:
    __version__ = metadata.version("seqr_s3")
except metadata.PackageNotFoundError:
    __version__ = "unknown (not installed)"
