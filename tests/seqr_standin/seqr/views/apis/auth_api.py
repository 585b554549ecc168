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


def user_for_credentials(email: str, password: str) -> tuple[User | None, str, int]:
    """The active user with this email (matched case-insensitively, as seqr) and password, or None with the
    error and status seqr answers: 400 for a missing field, 401 for anything else."""
    if not email:
        return None, "Email is required", 400
    if not password:
        return None, "Password is required", 400
    # Compare lower-cased emails rather than iexact, which mis-matches some unicode (upstream's reasoning).
    users = User.objects.annotate(email_lower=Lower("email")).filter(email_lower=email.lower())
    if users.count() != 1:
        return None, "Invalid credentials", 401
    user = authenticate(username=users.first().username, password=password)
    if not user:
        return None, "Invalid credentials", 401
    return user, "", 200


def login_view(request: HttpRequest) -> HttpResponse:
    """Log in by email and password; answers 400/401 JSON on failure."""
    request_json = json.loads(request.body)
    user, error, status = user_for_credentials(request_json.get("email"), request_json.get("password"))
    if not user:
        return create_json_response({"error": error}, status=status, reason=error)
    login(request, user)
    logger.info("Logged in %s", user.email)
    return create_json_response({"success": True})


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/")


def login_required_error(request: HttpRequest) -> HttpResponse:
    """Where seqr sends anonymous API calls: 401 JSON naming the login page."""
    return create_json_response({"error": LOGIN_URL}, status=401, reason="login required")
