"""seqr's JSON error middleware, reduced to the exception mapping the IGV views rely on.

Upstream turns PermissionDenied into 403 and a missing row into 404 and, for ``/api`` paths, answers JSON with
``{"error": ...}`` (PermissionDenied's text is replaced by "Permission Denied"); any other exception is a 500.
"""

from __future__ import annotations

import logging
import traceback

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from seqr.views.utils.json_utils import create_json_response

logger = logging.getLogger(__name__)


class ErrorsWarningsException(Exception):
    """A user-facing validation failure carrying lists of errors and warnings (answered as 400)."""

    def __init__(self, errors: list, warnings: list | None = None) -> None:
        super().__init__(str(errors))
        self.errors = errors
        self.warnings = warnings


EXCEPTION_ERROR_MAP = {
    PermissionDenied: 403,
    ObjectDoesNotExist: 404,
    Http404: 404,
    ErrorsWarningsException: 400,
}


class JsonErrorMiddleware(MiddlewareMixin):
    """Answers API exceptions as JSON with seqr's status codes instead of Django's HTML error pages."""

    @staticmethod
    def process_exception(request: HttpRequest, exception: Exception) -> HttpResponse | None:
        status = next((code for exc, code in EXCEPTION_ERROR_MAP.items() if isinstance(exception, exc)), 500)
        if isinstance(exception, ErrorsWarningsException):
            exception_json = {"errors": exception.errors, "warnings": exception.warnings}
        else:
            exception_json = {"error": str(exception)}
        if settings.DEBUG or status == 500:
            exception_json["traceback"] = traceback.format_exc()
        if isinstance(exception, PermissionDenied):
            logger.warning("PermissionDenied: %s", exception_json["error"])
            exception_json["error"] = "Permission Denied"
        if request.path.startswith("/api"):
            return create_json_response(exception_json, status=status)
        return None
