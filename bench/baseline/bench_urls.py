"""The stand-in's routes plus the old-approach baseline under a name no real seqr has (benchmark only)."""

from django.urls import re_path
from old_approach_view import old_fetch_igv_track
from seqr.urls import urlpatterns as seqr_urlpatterns

BASELINE_ROUTE = r"^api/bench_old_approach/project/(?P<project_guid>[^/]+)/igv_track/(?P<igv_track_path>.+)$"

urlpatterns = [re_path(BASELINE_ROUTE, old_fetch_igv_track), *seqr_urlpatterns]
