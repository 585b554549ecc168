"""Run inside the stand-in's Django (``manage.py shell -c "import reuse_probe; reuse_probe.main()"``), on a
private database, to watch what seqr_s3 remembers between requests: presigned URLs (reused for a part of
their lifetime) and project registrations of paths (trusted for a few seconds, refusals never remembered).

The clocks of both memories are moved forward by replacing their ``clock``; presigning is real botocore,
watched by wrapping ``s3._sign`` (it still signs). Prints one line ``PROBE <json>``.
"""

from __future__ import annotations

import json
import os
from typing import Any


def main() -> None:
    from seqr.models import IgvSample, Individual
    from seqr_s3 import access, config, paths, s3

    given = json.loads(os.environ["PROBE_INPUT"])
    project, bam, other_bam = given["project"], given["bam"], given["other_project_bam"]
    settings = config.load_settings()
    result: dict[str, Any] = {}

    signed: list[str] = []
    real_sign = s3._sign

    def watched_sign(settings_: Any, path: Any, method: str, overrides: Any) -> tuple[str, str]:
        signed.append(method)
        return real_sign(settings_, path, method, overrides)

    s3._sign = watched_sign
    path = paths.parse_s3_path(bam)
    first_get = s3.presign(settings, path)
    second_get = s3.presign(settings, path)
    head = s3.presign(settings, path, method="HEAD")
    result["get_reused"] = first_get == second_get
    result["signed_before_window_ends"] = list(signed)
    result["get_url"], result["head_url"] = first_get[0], head[0]
    real_clock = s3._presigned_urls.clock
    window = settings.presign_expiry * s3.PRESIGN_REUSE_FRACTION
    s3._presigned_urls.clock = lambda: real_clock() + window + 1
    s3.presign(settings, path)
    result["signed_after_window"] = list(signed)
    s3.forget_clients()
    s3._presigned_urls.clock = real_clock
    s3.presign(settings, path)
    result["signed_after_forget"] = list(signed)

    result["registered"] = access.is_registered_to_project(project, bam)
    IgvSample.objects.filter(file_path=bam).delete()
    result["remembered_after_removal"] = access.is_registered_to_project(project, bam)
    real_access_clock = access._registrations.clock
    access._registrations.clock = lambda: real_access_clock() + access.REGISTERED_TTL_SECONDS + 1
    result["after_ttl"] = access.is_registered_to_project(project, bam)
    access._registrations.clock = real_access_clock
    result["other_project"] = access.is_registered_to_project(project, other_bam)
    # Register the other project's file to this project (the removed sample's individual has a free slot).
    IgvSample.objects.filter(file_path=other_bam).update(individual=Individual.objects.get(guid="I_bam"))
    result["registered_right_after_refusal"] = access.is_registered_to_project(project, other_bam)
    print("PROBE " + json.dumps(result))
