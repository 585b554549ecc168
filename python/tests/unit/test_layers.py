"""The package's layers point one way: paths/config/s3 below, files (seqr's file helpers) and serving (the
HTTP answers) on top. files.py streams S3 bodies with the S3 layer's S3BodyStream, never through
serving.py."""

from __future__ import annotations

import subprocess
import sys


def test_file_helpers_do_not_load_the_http_layer() -> None:
    probe = "import sys, seqr_s3.files; print(sorted(m for m in sys.modules if m.startswith('seqr_s3')))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "seqr_s3.s3" in loaded
    assert "seqr_s3.serving" not in loaded, loaded


def test_the_body_stream_belongs_to_the_s3_layer() -> None:
    from seqr_s3 import files, s3

    assert files.S3BodyStream is s3.S3BodyStream
    assert s3.S3BodyStream.__module__ == "seqr_s3.s3"
