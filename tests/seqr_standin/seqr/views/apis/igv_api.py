"""seqr's IGV views (``seqr.views.apis.igv_api``), faithful to upstream INCLUDING its defects.

The import line binds the file helpers locally, as upstream does, so a patch that only replaces them
in ``seqr.utils.file_utils`` does not reach this module. ``_stream_gs``/``_stream_file`` are looked up at call
time by ``fetch_igv_track``; urls.py holds ``fetch_igv_track`` itself. Deliberately kept from upstream
(seqr_s3 fixes these for s3:// paths, the stand-in must not): ``Content-Range`` without the ``/size`` part,
Content-Length taken from the request instead of the file, and a crash (500) on an open range ``bytes=N-``.
"""

from __future__ import annotations

import json
import re

import requests
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from seqr.models import IgvSample, Individual
from seqr.utils.file_utils import (
    does_file_exist,
    file_iter,
    get_google_project,
    is_google_bucket_file_path,
    run_command,
)
from seqr.views.utils.json_utils import create_json_response
from seqr.views.utils.permissions_utils import (
    get_project_and_check_permissions,
    login_and_policies_required,
    user_is_data_manager,
    user_is_pm,
)

GS_STORAGE_URL = "https://storage.googleapis.com"
TIMEOUT = 300


@login_and_policies_required
def fetch_igv_track(request: HttpRequest, project_guid: str, igv_track_path: str) -> HttpResponse:
    """Stream a track file to anyone who may view the project (seqr never checks the file belongs to it)."""
    get_project_and_check_permissions(project_guid, request.user)

    # igv.js asks for <bam>.bai; fall back to the <name>.bai naming when that does not exist.
    if igv_track_path.endswith(".bam.bai") and not does_file_exist(igv_track_path, user=request.user):
        igv_track_path = igv_track_path.replace(".bam.bai", ".bai")

    if is_google_bucket_file_path(igv_track_path):
        return _stream_gs(request, igv_track_path)

    return _stream_file(request, igv_track_path)


def _get_access_token(user: object) -> str:
    """A Google access token from the gcloud CLI (upstream caches it in redis; the stand-in has no redis)."""
    process = run_command("gcloud auth print-access-token", user=user)
    if process.wait() != 0:
        raise RuntimeError(
            "gcloud is not available in the seqr stand-in: Google Storage paths cannot be read"
        )
    return next(process.stdout).decode("utf-8").strip()


def _stream_gs(request: HttpRequest, gs_path: str) -> StreamingHttpResponse:
    """Proxy a gs:// object through Google's REST API, passing the client's Range header on."""
    headers = {"Authorization": f"Bearer {_get_access_token(request.user)}"}
    range_header = request.META.get("HTTP_RANGE")
    if range_header:
        headers["Range"] = range_header
    google_project = get_google_project(gs_path)
    if google_project:
        headers["x-goog-user-project"] = google_project
    response = requests.get(
        f"{GS_STORAGE_URL}/{gs_path.replace('gs://', '', 1)}", headers=headers, stream=True, timeout=TIMEOUT
    )
    return StreamingHttpResponse(
        response.iter_content(chunk_size=65536),
        status=response.status_code,
        content_type="application/octet-stream",
    )


def _stream_file(request: HttpRequest, path: str) -> StreamingHttpResponse:
    """Stream a file through ``file_iter`` with upstream's own Range handling (defects kept on purpose)."""
    content_type = "application/octet-stream"
    range_header = request.META.get("HTTP_RANGE", None)
    if range_header:
        range_match = re.compile(r"bytes\s*=\s*(\d+)\s*-\s*(\d*)", re.I).match(range_header)
        first_byte, last_byte = range_match.groups()
        first_byte = int(first_byte) if first_byte else 0
        last_byte = int(last_byte)  # upstream: ValueError on an open range "bytes=N-" → 500
        length = last_byte - first_byte + 1
        resp = StreamingHttpResponse(
            file_iter(path, byte_range=(first_byte, last_byte), raw_content=True, user=request.user),
            status=206,
            content_type=content_type,
        )
        resp["Content-Length"] = str(length)
        resp["Content-Range"] = f"bytes {first_byte}-{last_byte}"  # upstream: no "/size"
    else:
        resp = StreamingHttpResponse(
            file_iter(path, raw_content=True, user=request.user), content_type=content_type
        )
    resp["Accept-Ranges"] = "bytes"
    return resp


@login_and_policies_required
def update_individual_igv_sample(request: HttpRequest, individual_guid: str) -> HttpResponse:
    """Register a track file for an individual after checking its suffix and that seqr can read it."""
    individual = Individual.objects.get(guid=individual_guid)
    project = individual.family.project
    user = request.user

    if not (user_is_pm(user) or user_is_data_manager(user)):
        raise PermissionDenied(f"{user} does not have sufficient permissions for {project}")

    request_json = json.loads(request.body)

    try:
        file_path = request_json.get("filePath")
        if not file_path:
            raise ValueError("request must contain fields: filePath")

        sample_type = next(
            (
                st
                for st, suffixes in IgvSample.SAMPLE_TYPE_FILE_EXTENSIONS.items()
                if file_path.endswith(suffixes)
            ),
            None,
        )
        if not sample_type:
            valid = ", ".join(
                s for suffixes in IgvSample.SAMPLE_TYPE_FILE_EXTENSIONS.values() for s in suffixes
            )
            raise Exception(f'Invalid file extension for "{file_path}" - valid extensions are {valid}')
        if not does_file_exist(file_path, user=user):
            raise Exception(f'Error accessing "{file_path}"')
        if request_json.get("indexFilePath") and not does_file_exist(
            request_json["indexFilePath"], user=user
        ):
            raise Exception('Error accessing "{}"'.format(request_json["indexFilePath"]))

        sample, created = IgvSample.objects.update_or_create(
            individual=individual,
            sample_type=sample_type,
            defaults={
                "file_path": file_path,
                "sample_id": request_json.get("sampleId"),
                "index_file_path": request_json.get("indexFilePath"),
            },
        )
        response = {
            "igvSamplesByGuid": {
                sample.guid: {
                    "sampleGuid": sample.guid,
                    "individualGuid": individual.guid,
                    "familyGuid": individual.family.guid,
                    "projectGuid": project.guid,
                    "filePath": sample.file_path,
                    "indexFilePath": sample.index_file_path,
                    "sampleId": sample.sample_id,
                    "sampleType": sample.sample_type,
                }
            }
        }
        if created:
            response["individualsByGuid"] = {
                individual.guid: {"igvSampleGuids": [s.guid for s in individual.igvsample_set.all()]}
            }
        return create_json_response(response)
    except Exception as e:
        error = str(e)
        return create_json_response({"error": error}, status=400, reason=error)
