"""seqr's username/password login (``POST /api/login`` with JSON email and password) and its 401 endpoint."""

from __future__ import annotations

import json
import logging

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.models import User
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from seqr.views.utils.json_utils import create_json_response

logger = logging.getLogger(__name__)

LOGIN_URL = "/login"


def login_view(request: HttpRequest) -> HttpResponse:
    """Log in by email (matched case-insensitively, as seqr) and password; answers 400/401 JSON on failure."""
    request_json = json.loads(request.body)
    if not request_json.get("email"):
        error = "Email is required"
        return create_json_response({"error": error}, status=400, reason=error)
    if not request_json.get("password"):
        error = "Password is required"
        return create_json_response({"error": error}, status=400, reason=error)

    # Compare lower-cased emails rather than iexact, which mis-matches some unicode (upstream's reasoning).
    users = User.objects.annotate(email_lower=Lower("email")).filter(
        email_lower=request_json["email"].lower()
    )
    if users.count() != 1:
        error = "Invalid credentials"
        return create_json_response({"error": error}, status=401, reason=error)

    user = authenticate(username=users.first().username, password=request_json["password"])
    if not user:
        error = "Invalid credentials"
        return create_json_response({"error": error}, status=401, reason=error)

    login(request, user)
    logger.info("Logged in %s", user.email)
    return create_json_response({"success": True})


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/")


def login_required_error(request: HttpRequest) -> HttpResponse:
    """Where seqr sends anonymous API calls: 401 JSON naming the login page."""
    return create_json_response({"error": LOGIN_URL}, status=401, reason="login required")
