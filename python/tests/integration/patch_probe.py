"""Run inside the stand-in's Django (``manage.py shell -c "import patch_probe; patch_probe.main()"``) to look
at the patch from seqr's side: which module attributes were rebound, and what the patched functions return
for s3:// and local paths when other seqr modules call them. Prints one JSON document.

Inputs come from the PROBE_INPUT environment variable (JSON): s3 and local paths and a byte range.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    from seqr.utils import file_utils, vcf_utils
    from seqr.views.apis import igv_api
    from seqr_s3.patch import ORIGINAL_ATTRIBUTE, apply_patch

    given = json.loads(os.environ["PROBE_INPUT"])
    first, last = given["byte_range"]
    result: dict[str, Any] = {
        "rebound": {
            f"{module.__name__}.{name}": hasattr(getattr(module, name), ORIGINAL_ATTRIBUTE)
            for module in (file_utils, vcf_utils, igv_api)
            for name in ("does_file_exist", "file_iter")
        },
        "stream_file_rebound": hasattr(igv_api._stream_file, ORIGINAL_ATTRIBUTE),
        "same_object_everywhere": vcf_utils.file_iter is file_utils.file_iter is igv_api.file_iter,
        "exists": {path: vcf_utils.does_file_exist(path) for path in given["exists"]},
        "raw_range_sha": _sha(
            b"".join(file_utils.file_iter(given["bam"], byte_range=(first, last), raw_content=True))
        ),
        "raw_whole_sha": _sha(b"".join(igv_api.file_iter(given["bam"], raw_content=True))),
        "vcf_samples": sorted(vcf_utils.validate_vcf_and_get_samples(given["vcf_gz"], None)),
        "gz_text_sha": _sha("".join(vcf_utils.file_iter(given["vcf_gz"])).encode()),
        "plain_text_lines": list(vcf_utils.file_iter(given["vcf"]))[:3],
        "local_text_lines": list(vcf_utils.file_iter(given["local_vcf"]))[:3],
    }
    missing = file_utils.file_iter(given["missing"], raw_content=True)
    try:
        next(missing)
        result["missing"] = "no error"
    except FileNotFoundError as error:
        result["missing"] = f"FileNotFoundError: {error}"

    before = {name: getattr(file_utils, name) for name in ("does_file_exist", "file_iter")}
    apply_patch()
    apply_patch()
    result["idempotent"] = all(
        getattr(file_utils, name) is wrapper
        and not hasattr(getattr(wrapper, ORIGINAL_ATTRIBUTE), ORIGINAL_ATTRIBUTE)
        and getattr(vcf_utils, name) is wrapper
        for name, wrapper in before.items()
    )
    print("PROBE " + json.dumps(result))
