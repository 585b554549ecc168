"""Serve IGV reads from S3 in seqr: s3:// paths, RFC 9110 range responses and the patch that wires them in."""

__version__ = "0.1.0"
