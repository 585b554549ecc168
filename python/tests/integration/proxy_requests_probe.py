"""Run inside the stand-in's Django (see s3_track_support.run_shell_probe) to see which S3 requests proxy mode
makes for each client request: answers are built by seqr_s3's real view code against the real SeaweedFS,
and the S3 operations are counted by a botocore event hook on the worker's own client (they still run).

Prints one line ``PROBE <json>``: per case the operations, status, headers and a digest of the body.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def main() -> None:
    from django.test import RequestFactory
    from seqr_s3 import config, paths, s3, serving

    given = json.loads(os.environ["PROBE_INPUT"])
    settings = config.load_settings()
    path = paths.parse_s3_path(given["path"])
    operations: list[str] = []

    def count_operation(model: Any, **_: Any) -> None:
        operations.append(model.name)

    for purpose in (s3.METADATA, s3.DATA):
        s3.get_client(settings, purpose).meta.events.register("before-call.s3", count_operation)
    factory = RequestFactory()
    results = []
    for case in given["cases"]:
        headers = {name: value for name, value in case["headers"].items()}
        request = factory.generic(case["method"], "/", headers=headers)
        operations.clear()
        response = serving.proxy_response(request, settings, path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        response.close()
        results.append(
            {
                "operations": list(operations),
                "status": response.status_code,
                "content_range": response.get("Content-Range"),
                "content_length": response.get("Content-Length"),
                "etag": response.get("ETag"),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body_length": len(body),
            }
        )
    print("PROBE " + json.dumps(results))
