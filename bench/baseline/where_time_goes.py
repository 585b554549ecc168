"""Where a worker's time goes in one accel request: run in the accel gunicorn's environment (same settings,
database and AWS files), time the whole request through Django's test client, and the parts of it.

Prints one JSON object of CPU milliseconds per call (medians of several batches): the whole IGV track request
in accel mode, an ordinary page request for comparison, and seqr_s3's own parts (access check, presign).
Everything else in the track request is seqr's: session and user lookup, project permission check.

    BENCH_SESSION_COOKIE=... python where_time_goes.py TRACK_PATH PROJECT_GUID S3_PATH  (run.py runs it)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable

BATCHES = 5
CALLS_PER_BATCH = 40


def cpu_ms_per_call(action: Callable[[], object]) -> float:
    """Median over batches of CPU time per call (CPU, not wall time: the machine's other load is not ours)."""
    action()  # warm caches, connections and lazy imports first
    batches = []
    for _ in range(BATCHES):
        started = time.process_time()
        for _ in range(CALLS_PER_BATCH):
            action()
        batches.append((time.process_time() - started) / CALLS_PER_BATCH * 1e3)
    return statistics.median(batches)


def main(cookie_header: str, track_path: str, project_guid: str, s3_path: str) -> dict[str, float]:
    import django

    django.setup()
    from django.test import Client
    from seqr_s3 import access, config, paths, s3

    settings = config.load_settings()
    # As through the role's nginx: the per-host secret it sends (packages from before it have none to check).
    secret = getattr(settings, "accel_secret", None)
    client = Client(**({"HTTP_X_SEQR_S3_ACCEL_SECRET": secret} if secret else {}))
    for pair in cookie_header.split("; "):
        name, _, value = pair.partition("=")
        client.cookies[name] = value
    answer = client.get(track_path, HTTP_RANGE="bytes=0-65535")
    if answer.status_code != 200 or not answer.get("X-Accel-Redirect"):
        raise SystemExit(f"the accel request answered {answer.status_code} without X-Accel-Redirect")

    path = paths.parse_s3_path(s3_path)

    def first_time(action: Callable[[], object]) -> Callable[[], object]:
        """The action as on a file's first request: nothing remembered from earlier calls."""

        def run() -> object:
            # Packages from before the reuse caches (bench/run.py --package-src) have nothing to forget.
            for forget in (
                getattr(access, "forget_registrations", None),
                getattr(s3, "forget_presigned_urls", None),
            ):
                if forget is not None:
                    forget()
            return action()

        return run

    def check() -> None:
        access.check_access(settings, project_guid, s3_path, path)

    def presign() -> None:
        s3.presign(settings, path)

    return {
        "accel_track_request_ms": cpu_ms_per_call(lambda: client.get(track_path, HTTP_RANGE="bytes=0-65535")),
        "ordinary_page_request_ms": cpu_ms_per_call(lambda: client.get("/")),
        "seqr_s3_access_check_ms": cpu_ms_per_call(first_time(check)),
        "seqr_s3_presign_ms": cpu_ms_per_call(first_time(presign)),
        "seqr_s3_access_check_remembered_ms": cpu_ms_per_call(check),
        "seqr_s3_presign_remembered_ms": cpu_ms_per_call(presign),
    }


if __name__ == "__main__":
    if len(sys.argv) != 4 or "BENCH_SESSION_COOKIE" not in os.environ:
        sys.exit(__doc__)
    # The session cookie comes in the environment, not argv, so it does not show up in process listings.
    print(json.dumps(main(os.environ["BENCH_SESSION_COOKIE"], *sys.argv[1:])))
