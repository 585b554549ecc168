"""URL routes of the seqr stand-in: seqr's own patterns for the views it keeps.

As upstream, the route table holds a direct reference to ``fetch_igv_track``.
"""

from django.urls import path, re_path

from seqr.views.apis.auth_api import login_required_error, login_view, logout_view
from seqr.views.apis.igv_api import fetch_igv_track, update_individual_igv_sample
from seqr.views.igv_page import igv_reads_page
from seqr.views.login_page import login_page
from seqr.views.react_app import main_app

api_endpoints = {
    r"individual/(?P<individual_guid>[\w.|-]+)/update_igv_sample": update_individual_igv_sample,
    r"project/(?P<project_guid>[^/]+)/igv_track/(?P<igv_track_path>.+)": fetch_igv_track,
    "login": login_view,
}

urlpatterns = [re_path(r"^$", main_app)]
# Not upstream's React page, the same route: the form a browser logs in with (views/login_page.py).
urlpatterns += [path("login", login_page)]
# The one page with igv.js (not an upstream route): a project's alignment tracks read through the IGV API.
urlpatterns += [re_path(r"^project/(?P<project_guid>[^/]+)/igv_reads$", igv_reads_page)]
urlpatterns += [re_path(rf"^api/{endpoint}$", view) for endpoint, view in api_endpoints.items()]
urlpatterns += [
    path("logout", logout_view),
    path("api/login-required-error", login_required_error),
]
