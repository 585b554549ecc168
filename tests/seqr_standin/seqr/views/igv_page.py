"""One seqr-like page with igv.js showing a project's alignment tracks (tests only).

seqr's React UI builds each IGV track from an IgvSample row: the data URL is
``/api/project/<guid>/igv_track/<encodeURIComponent(file path)>`` and the index URL is ``<url>.bai`` for a
BAM, or the index file path sent the same way (else ``<url>.crai``) for a CRAM. This page builds the same
tracks so a real browser exercises the same requests through seqr (and seqr_s3) as seqr's UI does, and
imports igv.js the way seqr's bundle does (``igv/dist/igv.esm.min``), from the site's static files, never
from a CDN.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from seqr.models import IgvSample
from seqr.views.apis.auth_api import LOGIN_URL
from seqr.views.utils.permissions_utils import get_project_and_check_permissions, login_active_required

# Served by the site's static files (collectstatic on seqr; nginx's /static/ alias in front of the stand-in).
IGV_MODULE_PATH = "igv/dist/igv.esm.min.js"
# A small local reference (nginx's /reference/ alias), so igv.js never asks igv.org for a genome.
REFERENCE = {
    "id": "seqr-s3-test",
    "name": "seqr_s3 test reference",
    "fastaURL": "/reference/reference.fa",
    "indexURL": "/reference/reference.fa.fai",
}
DEFAULT_LOCUS = "chr1:1000-1400"


def _alignment_track(sample: IgvSample, project_guid: str) -> dict[str, Any]:
    """The track options seqr's UI gives igv.js for one alignment IgvSample.

    The paths are URL-encoded in the browser (encodeURIComponent), so the page ships them raw.
    """
    is_cram = sample.file_path.endswith(".cram")
    return {
        "name": sample.individual.individual_id,
        "type": "alignment",
        "format": "cram" if is_cram else "bam",
        "projectGuid": project_guid,
        "filePath": sample.file_path,
        "indexFilePath": sample.index_file_path or None,
    }


@login_active_required(login_url=LOGIN_URL)
def igv_reads_page(request: HttpRequest, project_guid: str) -> HttpResponse:
    """The project's alignment tracks (optionally only the ``individual`` GUIDs given) in igv.js.

    Like upstream's pages, an anonymous visitor is sent to the login page, which comes back here after.
    """
    project = get_project_and_check_permissions(project_guid, request.user)
    samples = IgvSample.objects.filter(
        individual__family__project=project, sample_type="alignment"
    ).select_related("individual")
    wanted = request.GET.getlist("individual")
    if wanted:
        samples = samples.filter(individual__guid__in=wanted)
    page_config = {
        "locus": request.GET.get("locus", DEFAULT_LOCUS),
        "reference": REFERENCE,
        "tracks": [_alignment_track(sample, project.guid) for sample in samples.order_by("individual__guid")],
    }
    return render(
        request,
        "seqr/igv_reads.html",
        {"page_config": page_config, "igv_module_path": IGV_MODULE_PATH},
    )
