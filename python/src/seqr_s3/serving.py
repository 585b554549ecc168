"""Answer an IGV track request for an s3:// path in one of three modes, as a Django response.

* accel: an empty answer with X-Accel-Redirect; nginx fetches the presigned URL itself, so no read bytes pass
  through the gunicorn worker (the default).
* proxy: the worker streams S3's bytes in CHUNK_SIZE pieces (memory stays flat whatever the size).
* redirect: 302 to the presigned URL (the bucket must allow CORS from seqr's origin).

Range handling in proxy mode follows RFC 9110 (see ranges.py); in accel and redirect modes S3 answers the
client's Range itself.

Every mode answers reads as application/octet-stream with nosniff, whatever Content-Type the object was
stored with (an object stored as text/html must never render on seqr's origin). accel answers only requests
that carry the per-host secret the role's nginx sends (ACCEL_SECRET_FILE); any other request, e.g. one sent
straight to gunicorn's port, gets a proxy-mode answer and never sees a presigned URL.

Authorize once (the role's seqr_s3_nginx_authorize_ttl): nginx asks with X-Seqr-S3-Authorize: <TTL> (besides
its secret) whether this session may read this track, keeps a yes for TTL seconds and fetches every range from
S3 itself. The answer is a grant (200, empty, the presigned URL and Host, audited with grant_seconds = TTL)
or a decline (403, empty, not audited): nginx then sends the client's request the ordinary way, which decides
and audits it as without the cache, so every refusal has today's answer and audit line.

When nginx's fetch from S3 fails (a TLS failure, no connection, a 5xx from S3), nginx writes no error line (it
would carry the presigned URL) and asks seqr again with X-Seqr-S3-Store-Failed: access is decided again, then
a HEAD through boto3 names the cause in the answer and the log (store_failed_response).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Optional

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.utils.http import http_date

from . import ranges, s3
from .access import REFUSAL_MESSAGE, REFUSAL_STATUS, AccessRefused, check_access
from .audit import RULE_CONFIGURATION, RULE_INVALID_PATH, AuditRecord, request_fields
from .config import ConfigError, S3Settings, load_settings
from .paths import InvalidS3Path, S3Path, parse_s3_path

logger = logging.getLogger(__name__)

ACCEL_URL_HEADER = "X-Seqr-S3-Url"
ACCEL_HOST_HEADER = "X-Seqr-S3-Host"
ACCEL_RANGE_HEADER = "X-Seqr-S3-Range"
# Reads are bytes for igv.js: never the object's stored Content-Type (it could be text/html with a <script>).
READ_CONTENT_TYPE = "application/octet-stream"
# Asked of S3 in redirect mode, so a read opened as a page is saved, never shown.
READ_CONTENT_DISPOSITION = "attachment"
# The header the role's nginx sets on every request it proxies to seqr (clients' copies are replaced).
ACCEL_SECRET_HEADER = "X-Seqr-S3-Accel-Secret"  # noqa: S105 (a header name, not a secret)
_ACCEL_SECRET_META = "HTTP_" + ACCEL_SECRET_HEADER.upper().replace("-", "_")
BAM_BAI = ".bam.bai"
# The answer to a failure nothing in this package foresaw; the cause is in the server's log.
UNEXPECTED_STATUS = 500
UNEXPECTED_MESSAGE = "seqr_s3 could not serve this track: an internal error (the server log names the cause)"
# nginx's authorization request: the value is how many seconds nginx keeps a grant (its cache validity).
AUTHORIZE_HEADER = "X-Seqr-S3-Authorize"
_AUTHORIZE_META = "HTTP_" + AUTHORIZE_HEADER.upper().replace("-", "_")
MAX_AUTHORIZE_SECONDS = 300
DECLINE_STATUS = 403
# nginx's question after its own fetch of a presigned URL failed (the role's nginx replaces clients' copies).
STORE_FAILED_HEADER = "X-Seqr-S3-Store-Failed"
_STORE_FAILED_META = "HTTP_" + STORE_FAILED_HEADER.upper().replace("-", "_")
STORE_FAILED_STATUS = 502


def error_response(status: int, message: str) -> JsonResponse:
    """A JSON error in seqr's shape ({"error": ...}); never a traceback."""
    return JsonResponse({"error": message}, status=status)


def serve_track(request: HttpRequest, requested: str, project_guid: Optional[str]) -> HttpResponse:
    """Check access to an s3:// track path, then answer it in the configured mode; every failure is clean.

    No S3 request is made before seqr's project check (fetch_igv_track, before us) and ours (allow-list,
    registration) have passed; the .bam.bai -> .bai fallback is decided here, after them. Each request
    leaves one line on the ``seqr_s3.audit`` logger.
    """
    grant_seconds = authorize_seconds(request)
    if grant_seconds is not None:
        return _authorize(request, requested, project_guid, grant_seconds)
    record = AuditRecord(
        "igv_track",
        requested,
        getattr(request, "user", None),
        project=project_guid,
        **request_fields(request),
    )
    try:
        response = _decide_and_answer(request, requested, project_guid, record)
    except Exception as error:
        # Whatever seqr or a store does that nothing above foresaw: a JSON 500 in seqr's shape (never seqr's
        # HTML error page) and one log line with the cause; the traceback goes to the operator's log only.
        logger.exception(
            "seqr_s3: unexpected error serving %s for project %s: %s: %s",
            requested,
            project_guid,
            type(error).__name__,
            error,
        )
        record.set(error=type(error).__name__)
        response = error_response(UNEXPECTED_STATUS, UNEXPECTED_MESSAGE)
    record.emit(status=response.status_code, served_range=_served_range(response))
    return response


def authorize_seconds(request: HttpRequest) -> Optional[int]:
    """The TTL of an authorization request from the role's nginx (secret and X-Seqr-S3-Authorize), else None.

    Only accel mode with nginx's secret asks: a client's own X-Seqr-S3-Authorize is never honoured (nginx
    replaces it, and a request without the secret gets the ordinary answer)."""
    # seqr's _stream_file may be handed something other than a Django request by seqr code of another shape.
    value = getattr(request, "META", {}).get(_AUTHORIZE_META)
    if value is None or not value.isdigit() or not 0 < int(value) <= MAX_AUTHORIZE_SECONDS:
        return None
    try:
        settings = load_settings()
    except ConfigError:
        return None
    if settings.mode != "accel" or not came_through_nginx(request, settings):
        return None
    return int(value)


def decline_response() -> HttpResponse:
    """No grant: nginx sends the request to seqr the ordinary way, which answers and audits it."""
    response = HttpResponse(b"", status=DECLINE_STATUS)
    del response["Content-Type"]
    return response


def _authorize(
    request: HttpRequest, requested: str, project_guid: Optional[str], seconds: int
) -> HttpResponse:
    """Grant nginx this session's read of this track for ``seconds`` (the same checks as a read: seqr's own
    login and project check ran before us; then the allow-list, the registration, asked of the database now,
    and the .bam.bai fallback), or decline without a decision of our own."""
    settings = load_settings()
    try:
        path = parse_s3_path(requested)
        check_access(settings, project_guid, requested, path, remembered=False)
        path = _index_fallback(settings, project_guid, requested, path, remembered=False)
        url, host, deadline = s3.presign_with_deadline(settings, path, method="GET")
    except (InvalidS3Path, AccessRefused, s3.S3Error):
        return decline_response()
    if s3.seconds_until(deadline) <= seconds:
        # Signed with a role session ending within the grant: nginx would keep a URL S3 soon refuses.
        return decline_response()
    record = AuditRecord(
        "igv_track",
        requested,
        getattr(request, "user", None),
        project=project_guid,
        mode=settings.mode,
        object=str(path),
        **request_fields(request),
    )
    record.allow(grant_seconds=seconds)
    response = HttpResponse(b"")
    response[ACCEL_URL_HEADER] = url
    response[ACCEL_HOST_HEADER] = host
    del response["Content-Type"]
    # nginx computes each range itself; the grant covers every range of this object for `seconds`.
    record.emit(status=response.status_code, served_range=None)
    return response


def refusal_response() -> JsonResponse:
    """The one answer for every refused path (see access.REFUSAL_MESSAGE)."""
    return error_response(REFUSAL_STATUS, REFUSAL_MESSAGE)


def _decide_and_answer(
    request: HttpRequest, requested: str, project_guid: Optional[str], record: AuditRecord
) -> HttpResponse:
    try:
        settings = load_settings()
    except ConfigError as error:
        logger.error("seqr_s3: cannot serve %s: %s", requested, error)
        record.refuse(RULE_CONFIGURATION)
        return error_response(503, f"S3 reads are misconfigured on this server: {error}")
    record.set(mode=settings.mode)
    try:
        path = parse_s3_path(requested)
    except InvalidS3Path as error:
        record.refuse(RULE_INVALID_PATH)
        return error_response(400, str(error))
    # Behind nginx's authorization cache the per-request way is what nginx sends after a decline: it asks the
    # database too, so a removed sample is refused as soon as nginx's grant ends.
    remembered = _AUTHORIZE_META not in request.META or not came_through_nginx(request, settings)
    try:
        check_access(settings, project_guid, requested, path, remembered=remembered)
    except AccessRefused as refused:
        record.refuse(refused.rule)
        return refusal_response()
    record.allow(grant_seconds=settings.presign_expiry if settings.mode == "redirect" else 0)
    try:
        path = _index_fallback(settings, project_guid, requested, path, remembered=remembered)
        record.set(object=str(path))
        if settings.mode == "accel" and came_through_nginx(request, settings):
            if request.META.get(_STORE_FAILED_META):
                record.set(nginx_fetch="failed")
                return store_failed_response(settings, path)
            return accel_response(request, settings, path)
        if settings.mode == "redirect":
            return redirect_response(request, settings, path)
        return proxy_response(request, settings, path)
    except s3.S3Error as error:
        return error_response(error.status, str(error))


def came_through_nginx(request: HttpRequest, settings: S3Settings) -> bool:
    """True when the request carries the per-host secret the role's nginx sets (compared in constant time).

    nginx replaces any copy a client sends, so only nginx can produce it; a request straight to gunicorn's
    port cannot, and gets a proxy-mode answer instead of a presigned URL."""
    if settings.accel_secret is None:
        return False
    sent = request.META.get(_ACCEL_SECRET_META, "")
    return hmac.compare_digest(sent.encode("utf-8", "replace"), settings.accel_secret.encode("ascii"))


def _index_fallback(
    settings: S3Settings, project_guid: Optional[str], requested: str, path: S3Path, remembered: bool = True
) -> S3Path:
    """seqr's ``.bam.bai`` -> ``.bai`` fallback, decided after the access check (fetch_igv_track's own
    existence test is deferred to here by patch.py): the ``.bai`` is read only when the ``.bam.bai`` does not
    exist and the ``.bai`` passes the access check itself."""
    if not requested.endswith(BAM_BAI) or s3.object_exists(settings, path):
        return path
    alternative = requested[: -len(BAM_BAI)] + ".bai"
    try:
        alternative_path = parse_s3_path(alternative)
        check_access(settings, project_guid, alternative, alternative_path, remembered=remembered)
    except (InvalidS3Path, AccessRefused):
        raise s3.S3NotFound(f"{path} does not exist", path) from None
    logger.info("seqr_s3: %s does not exist; serving %s instead", path, alternative_path)
    return alternative_path


def _served_range(response: HttpResponse) -> Optional[str]:
    """The range seqr handed on: accel's canonical Range for nginx ('' = whole object), else Content-Range."""
    if response.has_header(ACCEL_RANGE_HEADER):
        return response[ACCEL_RANGE_HEADER]
    return response.get("Content-Range")


def accel_response(request: HttpRequest, settings: S3Settings, path: S3Path) -> HttpResponse:
    """Hand the read to nginx: empty body, X-Accel-Redirect to the internal location, URL and Host to use."""
    # Always a GET URL (docs/CONTRACT.md): nginx fetches with GET even for a client's HEAD and drops the body.
    url, host = s3.presign(settings, path, method="GET")
    response = HttpResponse(b"")
    response["X-Accel-Redirect"] = settings.accel_location
    response[ACCEL_URL_HEADER] = url
    response[ACCEL_HOST_HEADER] = host
    # S3 stores differ on malformed Range headers (SeaweedFS answers 416 to "bytes=9-5"). Parsed here, even
    # without the size, nginx can send S3 a canonical single range, or none where RFC 9110 says to ignore
    # the header. Empty means: send no Range.
    spec = ranges.parse_range_spec(request.META.get("HTTP_RANGE"))
    if_range = request.META.get("HTTP_IF_RANGE")
    if spec is not None and if_range is not None:
        # Stores such as SeaweedFS ignore If-Range; deciding it here costs a HEAD, only for such requests.
        info = s3.head_object(settings, path)
        if not ranges.if_range_allows_partial(if_range, info.etag, info.last_modified):
            spec = None
    response[ACCEL_RANGE_HEADER] = spec.as_request_header() if spec is not None else ""
    # Content-Type and Content-Length come from S3 through nginx; ours would describe the empty body.
    del response["Content-Type"]
    return response


def store_failed_response(settings: S3Settings, path: S3Path) -> HttpResponse:
    """nginx could not fetch the presigned URL: ask S3 about the object with boto3, so the answer and the log
    line name the cause (TLS and its reason, no route, S3's own error) without the URL, which nginx's error
    line would carry. Access was decided again before this; nothing is read."""
    try:
        s3.head_object(settings, path)
    except s3.S3Error as error:
        # head_object logged the cause.
        return error_response(error.status, str(error))
    logger.warning(
        "seqr_s3: nginx's fetch of %s from S3 failed (TLS, its connection, or an error S3 answered), but "
        "seqr_s3's own request to S3 succeeded: if it lasts, check what only nginx uses "
        "(seqr_s3_nginx_ca_bundle, its resolvers, its route to the endpoint)",
        path,
    )
    return error_response(
        STORE_FAILED_STATUS, f"the read store failed while nginx read {path}; the server log names the cause"
    )


def redirect_response(request: HttpRequest, settings: S3Settings, path: S3Path) -> HttpResponse:
    """302 to a presigned URL; the browser sends its Range to S3 directly.

    The client repeats its own method at the new URL, and SigV4 signs the method: a HEAD gets a HEAD URL.
    """
    url, _ = s3.presign(
        settings,
        path,
        method=request.method or "GET",
        content_type=READ_CONTENT_TYPE,
        content_disposition=READ_CONTENT_DISPOSITION,
    )
    response = HttpResponseRedirect(url)
    # The URL carries a short-lived signature: keep it out of shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


def _object_headers(response: HttpResponse, info: s3.ObjectInfo) -> None:
    response["Accept-Ranges"] = "bytes"
    # The type is ours (READ_CONTENT_TYPE), and the browser must not guess another.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = READ_CONTENT_DISPOSITION
    if info.etag:
        response["ETag"] = info.etag
    if info.last_modified is not None:
        response["Last-Modified"] = http_date(info.last_modified.timestamp())


def proxy_response(request: HttpRequest, settings: S3Settings, path: S3Path) -> HttpResponse:
    """Stream the object (or one range of it) through this worker with RFC 9110 range semantics.

    Most IGV requests are a GET with one plain range: those cost one S3 GET, whose answer also tells the size
    the range decision needs. HEAD requests, If-Range, ranges S3 refuses (416 needs the size) and any answer
    that does not match what RFC 9110 asks of us take the careful way: a HEAD, then a GET under If-Match.
    """
    if request.method != "HEAD" and request.META.get("HTTP_IF_RANGE") is None:
        answered = _proxy_in_one_get(request, settings, path)
        if answered is not None:
            return answered
    return _proxy_after_head(request, settings, path)


def _proxy_in_one_get(request: HttpRequest, settings: S3Settings, path: S3Path) -> Optional[HttpResponse]:
    """Answer from a single GET carrying the client's range in canonical form, or None to take the careful
    way (S3's answer is then closed unread)."""
    spec = ranges.parse_range_spec(request.META.get("HTTP_RANGE"))
    try:
        got = s3.get_object(
            settings, path, range_header=spec.as_request_header() if spec is not None else None
        )
    except s3.S3RangeNotSatisfiable:
        return None
    info = s3.info_from_get(got)
    decision = ranges.resolve_range(spec, info.size) if info is not None else None
    if info is None or decision is None or not _answer_matches(got, decision, info.size):
        # e.g. a store that ignored the range or answered a suffix range of an empty object differently.
        got["Body"].close()
        logger.info("seqr_s3: S3's answer for %s did not match the range decision; asking again", path)
        return None
    return _streamed_answer(settings, path, info, decision.byte_range, got)


def _answer_matches(got: dict[str, Any], decision: ranges.RangeDecision, size: int) -> bool:
    """True when S3 sent exactly the bytes RFC 9110 tells us to answer with."""
    status = got.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if decision.kind == ranges.WHOLE:
        return status == 200
    if decision.kind == ranges.PARTIAL and decision.byte_range is not None:
        return status == 206 and got.get("ContentRange") == decision.byte_range.content_range(size)
    return False


def _proxy_after_head(request: HttpRequest, settings: S3Settings, path: S3Path) -> HttpResponse:
    """A HEAD gives the size, ETag and Last-Modified for the range decision and If-Range; the GET then
    carries If-Match so an object replaced in between is never spliced into one answer."""
    info = s3.head_object(settings, path)
    range_header = request.META.get("HTTP_RANGE")
    if range_header and not ranges.if_range_allows_partial(
        request.META.get("HTTP_IF_RANGE"), info.etag, info.last_modified
    ):
        range_header = None
    decision = ranges.decide(range_header, info.size)
    content_type = READ_CONTENT_TYPE

    if decision.kind == ranges.UNSATISFIABLE:
        response = HttpResponse(b"", status=416, content_type=content_type)
        response["Content-Range"] = ranges.unsatisfiable_content_range(info.size)
        _object_headers(response, info)
        return response

    byte_range = decision.byte_range
    length = byte_range.length if byte_range is not None else info.size
    if request.method == "HEAD" or length == 0:
        response = HttpResponse(b"", status=206 if byte_range is not None else 200, content_type=content_type)
        return _with_range_headers(response, info, byte_range)
    upstream_range = byte_range.as_request_header() if byte_range is not None else None
    got = s3.get_object(settings, path, range_header=upstream_range, if_match=info.etag)
    return _streamed_answer(settings, path, info, byte_range, got)


def _streamed_answer(
    settings: S3Settings,
    path: S3Path,
    info: s3.ObjectInfo,
    byte_range: Optional[ranges.ByteRange],
    got: dict[str, Any],
) -> StreamingHttpResponse:
    """A 200 (whole object) or 206 (one range) whose body is S3's answer, read in CHUNK_SIZE pieces."""
    stream = s3.S3BodyStream(got["Body"], settings.chunk_size, path)
    response = StreamingHttpResponse(
        stream,
        status=206 if byte_range is not None else 200,
        content_type=READ_CONTENT_TYPE,
    )
    return _with_range_headers(response, info, byte_range)


def _with_range_headers(
    response: HttpResponse, info: s3.ObjectInfo, byte_range: Optional[ranges.ByteRange]
) -> HttpResponse:
    """Content-Length and Content-Range of a 200 (whole object) or 206 (one range), plus the object's
    validators."""
    response["Content-Length"] = str(byte_range.length if byte_range is not None else info.size)
    if byte_range is not None:
        response["Content-Range"] = byte_range.content_range(info.size)
    _object_headers(response, info)
    return response
