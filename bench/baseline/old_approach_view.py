"""BASELINE ONLY (bench/): a faithful re-implementation of how seqr first read S3, to measure against.

This is the approach seqr_s3 replaces, kept exactly as slow and as loose as it was, on purpose:

* a new boto3 client is built for every request (about 8 ms of CPU in a warm process);
* existence is checked with a prefix listing, as ``file_iter`` calls ``does_file_exist`` first;
* the body is iterated with botocore's default chunking (``StreamingBody.__iter__``: 1 KiB reads), so the
  gunicorn worker copies every KiB through Python and is held for the whole transfer;
* the answer is 206 with ``Content-Range: bytes a-b`` without the ``/total`` and a Content-Length taken from
  the request, as upstream's ``_stream_file`` does.

It keeps seqr's project permission check (login + view permission), so the work per request matches what a
real seqr did. Never install this anywhere but the benchmark's stand-in.
"""

from __future__ import annotations

import re

import boto3
from botocore.config import Config
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from seqr.views.utils.permissions_utils import get_project_and_check_permissions, login_and_policies_required

_RANGE = re.compile(r"bytes\s*=\s*(\d+)\s*-\s*(\d*)", re.I)


def _split_s3_path(path: str) -> tuple[str, str]:
    bucket, _, key = path[len("s3://") :].partition("/")
    return bucket, key


def _new_client() -> object:
    """A fresh client per request, as the old code did; only the endpoint comes from the bench's settings."""
    seqr_s3 = getattr(settings, "SEQR_S3", {})
    return boto3.client(
        "s3",
        endpoint_url=seqr_s3.get("ENDPOINT_URL"),
        region_name=seqr_s3.get("REGION"),
        config=Config(s3={"addressing_style": "path"}),
    )


@login_and_policies_required
def old_fetch_igv_track(request: HttpRequest, project_guid: str, igv_track_path: str) -> HttpResponse:
    """seqr's fetch_igv_track + the old S3 branch of file_iter, for s3:// paths only."""
    get_project_and_check_permissions(project_guid, request.user)
    if not igv_track_path.startswith("s3://"):
        return HttpResponse("the baseline serves s3:// paths only", status=400)
    bucket, key = _split_s3_path(igv_track_path)
    client = _new_client()
    # The old existence check: a prefix listing (it also matches "x.bam" when asked for "x.ba").
    listing = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    if not listing.get("KeyCount"):
        return HttpResponse(status=404)

    range_header = request.META.get("HTTP_RANGE")
    if not range_header:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        return StreamingHttpResponse(iter(body), content_type="application/octet-stream")
    first_byte, last_byte = (int(group) for group in _RANGE.match(range_header).groups())
    body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first_byte}-{last_byte}")["Body"]
    response = StreamingHttpResponse(iter(body), status=206, content_type="application/octet-stream")
    response["Content-Length"] = str(last_byte - first_byte + 1)
    response["Content-Range"] = f"bytes {first_byte}-{last_byte}"
    response["Accept-Ranges"] = "bytes"
    return response
