"""Run inside the stand-in's Django (``manage.py shell``) to call seqr's own file helpers on s3:// paths the
way seqr modules other than the IGV view do: does_file_exist through vcf_utils, file_iter through
file_utils. Prints one JSON document after ``PROBE ``; inputs (paths, a user name) come from PROBE_INPUT."""

from __future__ import annotations

import json
import os
from typing import Any


def main() -> None:
    from django.contrib.auth.models import User
    from seqr.utils import file_utils, vcf_utils

    given = json.loads(os.environ["PROBE_INPUT"])
    user = User.objects.get(username=given["user"])
    result: dict[str, Any] = {"exists": {}, "file_iter": {}}
    for path in given["paths"]:
        result["exists"][path] = vcf_utils.does_file_exist(path, user=user)
        try:
            first = next(file_utils.file_iter(path, byte_range=(0, 3), raw_content=True, user=user))
            result["file_iter"][path] = {"first_bytes": first.hex()}
        except FileNotFoundError as error:
            result["file_iter"][path] = {"error": type(error).__name__, "message": str(error)}
    print("PROBE " + json.dumps(result))
