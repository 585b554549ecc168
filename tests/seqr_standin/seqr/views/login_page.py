"""The login page a browser uses (tests and ``make demo`` only; upstream's is a page of its React app).

Upstream seqr sends an anonymous visitor of a page to ``/login?next=<page>``, whose form posts the email and
password and then goes on to ``next``. Here the form is plain HTML: ``POST /login`` with Django's CSRF token
in the form, checked by the same email and password lookup as ``POST /api/login``, then a redirect to
``next`` when it is a path on this site (anything else goes to ``/``).
"""

from __future__ import annotations

import logging

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from seqr.views.apis.auth_api import user_for_credentials

logger = logging.getLogger(__name__)


def _safe_next(target: str) -> str:
    """``target`` when it is a path on this site (no scheme, no host), else the site's root."""
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return "/"


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: log in and go to ``next``, or the form again with the error (400/401)."""
    next_page = _safe_next(request.POST.get("next") or request.GET.get("next") or "/")
    email = request.POST.get("email", "")
    if request.method == "POST":
        user, error, status = user_for_credentials(email, request.POST.get("password", ""))
        if user:
            login(request, user)
            logger.info("Logged in %s", user.email)
            return HttpResponseRedirect(next_page)
    else:
        error, status = "", 200
    context = {"next_page": next_page, "email": email, "error": error}
    return render(request, "seqr/login.html", context, status=status)
