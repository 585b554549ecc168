"""Everything that talks to S3: one reused boto3 client per process, HEAD/GET/presign, the body stream, and
error mapping.

Credentials come only from boto3's standard chain (profile files, environment, instance role, assume-role
settings in the AWS config file); this module never sees or logs a secret. Every botocore failure is turned
into an S3Error carrying the HTTP status seqr should answer with and a message safe to show a user.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import urlsplit

from .config import S3Settings
from .memo import ExpiringMemo
from .paths import S3Path

logger = logging.getLogger(__name__)

# A track request is interactive and seqr has few sync workers: a hanging or dead endpoint must become a 504
# or 502 in seconds. Metadata calls (HEAD) get one attempt and METADATA_TIMEOUT; reads of bytes (GET)
# READ_ATTEMPTS attempts of READ_TIMEOUT each (botocore retries timeouts too, so attempts multiply the wait).
METADATA = "metadata"
DATA = "data"

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_DENIED_CODES = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
    "AccountProblem",
}
_RANGE_CODES = {"416", "InvalidRange"}
_CHANGED_CODES = {"412", "PreconditionFailed"}


class S3Error(Exception):
    """A failure to read from S3, with the HTTP status seqr answers and a message without secrets."""

    status = 502

    def __init__(self, message: str, path: Optional[S3Path] = None) -> None:
        super().__init__(message)
        self.path = path


class S3NotFound(S3Error, FileNotFoundError):
    """No such object or bucket. Also a FileNotFoundError, which is what seqr's file_iter callers expect."""

    status = 404


class S3AccessDenied(S3Error, PermissionError):
    """S3 refused this host's credentials for the object."""

    status = 403


class S3RangeNotSatisfiable(S3Error):
    """S3 says the range lies outside the object (it changed size between our HEAD and GET)."""

    status = 416


class S3Unavailable(S3Error):
    """The endpoint is unreachable, answered with a server error, or the object changed mid-request."""

    status = 502


class S3Timeout(S3Error):
    """The endpoint did not answer within CONNECT_TIMEOUT and READ_TIMEOUT (METADATA_TIMEOUT for a HEAD)."""

    status = 504


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD tells us about an object."""

    size: int
    etag: Optional[str]
    last_modified: Optional[datetime]
    content_type: Optional[str]


_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()

# igv.js asks for many ranges of the same file within seconds, and presigning costs about 0.2 ms of CPU in
# botocore (a measurable share of an accel request's few ms): a URL is reused for the first third of its
# lifetime, so whoever gets one can still use it for at least two thirds of it. Its lifetime is
# PRESIGN_EXPIRY, or less when it was signed with temporary credentials (a role's session) that expire sooner:
# S3 refuses a URL whose session token has expired, whatever X-Amz-Expires says.
PRESIGN_REUSE_FRACTION = 1 / 3
PRESIGN_CACHE_ENTRIES = 1024
_presigned_urls: ExpiringMemo[tuple[Any, ...], tuple[str, str, float]] = ExpiringMemo(PRESIGN_CACHE_ENTRIES)


def _client_key(settings: S3Settings, purpose: str = DATA) -> tuple[Any, ...]:
    # The pid is part of the key: a client built before gunicorn forks must not be shared with workers.
    return (
        os.getpid(),
        purpose,
        settings.profile,
        settings.region,
        settings.endpoint_url,
        settings.addressing_style,
        settings.connect_timeout,
        settings.read_timeout,
        settings.metadata_timeout,
        settings.read_attempts,
        settings.egress_proxy,
        settings.requester_pays,
    )


def _timeouts(settings: S3Settings, purpose: str) -> tuple[float, int]:
    """The read timeout and the number of attempts of one call made for ``purpose``."""
    if purpose == METADATA:
        return settings.metadata_timeout, 1
    return settings.read_timeout, settings.read_attempts


def time_bound(settings: S3Settings, purpose: str) -> float:
    """The longest one call for ``purpose`` can wait on a silent endpoint before its 504 (seconds)."""
    read_timeout, attempts = _timeouts(settings, purpose)
    return attempts * (settings.connect_timeout + read_timeout)


def get_client(settings: S3Settings, purpose: str = DATA) -> Any:
    """Return this process's boto3 S3 client for these settings and purpose (METADATA: HEAD calls, DATA:
    GET and presigning), building it once (it costs milliseconds)."""
    key = _client_key(settings, purpose)
    client = _clients.get(key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _build_client(settings, purpose)
            _clients[key] = client
    return client


def forget_clients() -> None:
    """Drop cached clients and presigned URLs, so the next call rebuilds them (after credentials or settings
    changed)."""
    with _clients_lock:
        _clients.clear()
    forget_presigned_urls()


def forget_presigned_urls() -> None:
    """Drop remembered presigned URLs, so the next presign signs anew."""
    _presigned_urls.clear()


def _build_client(settings: S3Settings, purpose: str) -> Any:
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    read_timeout, attempts = _timeouts(settings, purpose)
    config = Config(
        # Without this botocore presigns custom endpoints with SigV2, which many stores refuse.
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=settings.connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": attempts, "mode": "standard"},
        proxies=_proxies(settings),
    )
    try:
        return new_client(settings, config)
    except BotoCoreError as error:
        # e.g. ProfileNotFound: a configuration problem of this host, not of the request.
        raise S3Unavailable(f"cannot set up the S3 client: {error}") from None


class _OneLineWarnings(logging.Filter):
    """botocore logs a failed fetch of a role session (an STS refusing a token, an STS out of reach) as a
    warning with its traceback, then raises the error to seqr_s3, which answers and logs it cleanly. The
    warning keeps its line and names the error, without the traceback in seqr's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_ONE_LINE_WARNINGS = _OneLineWarnings()


def _proxies(settings: S3Settings) -> Optional[dict[str, str]]:
    """botocore's proxies for the egress proxy, or None. HTTPS endpoints are reached through it by CONNECT,
    so TLS is still verified end to end."""
    if not settings.egress_proxy:
        return None
    return {"http": settings.egress_proxy, "https": settings.egress_proxy}


def new_client(settings: S3Settings, config: Any) -> Any:
    """A boto3 S3 client for SEQR_S3's profile, region and endpoint with ``config``, and the request rules
    every client of seqr_s3 follows (REQUESTER_PAYS). The TLS trust is the profile's (``ca_bundle``): no
    ``verify=`` here, so verification can never be switched off by seqr_s3."""
    import boto3
    import botocore.session
    from botocore.config import Config

    logging.getLogger("botocore.credentials").addFilter(_ONE_LINE_WARNINGS)
    clients = botocore.session.get_session()
    if settings.egress_proxy:
        # Every client of the session gets the proxy, the STS client botocore makes to assume a role (or
        # exchange a web identity token) included: given to the S3 client alone, AssumeRole would go direct.
        clients.set_default_client_config(Config(proxies=_proxies(settings)))
    session = boto3.session.Session(
        botocore_session=clients, profile_name=settings.profile, region_name=settings.region
    )
    client = session.client("s3", endpoint_url=settings.endpoint_url, config=config)
    if settings.requester_pays:
        client.meta.events.register("provide-client-params.s3.*", _add_request_payer)
        client.meta.events.register("before-sign.s3.*", _request_payer_into_query)
    return client


REQUEST_PAYER_HEADER = "x-amz-request-payer"


def _add_request_payer(params: dict[str, Any], model: Any, **_: Any) -> None:
    """Every operation that knows RequestPayer (HEAD, GET, presigned GET/HEAD) says the requester pays."""
    if "RequestPayer" in model.input_shape.members:
        params.setdefault("RequestPayer", "requester")


def _request_payer_into_query(request: Any, signature_version: str = "", **_: Any) -> None:
    """A presigned URL carries RequestPayer as a signed query parameter instead of a signed header: nginx
    (accel) and a browser (redirect) send only the URL, so a header the signature demands would be missing."""
    if not str(signature_version).endswith("-query"):
        return
    value = request.headers.get(REQUEST_PAYER_HEADER)
    if value is None:
        return
    del request.headers[REQUEST_PAYER_HEADER]
    separator = "&" if "?" in request.url else "?"
    request.url = f"{request.url}{separator}{REQUEST_PAYER_HEADER}={value}"


def credential_source(settings: S3Settings) -> str:
    """Where boto3's chain finds credentials (e.g. 'shared-credentials-file'); never the keys themselves."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
        credentials = session.get_credentials()
    except BotoCoreError as error:
        return f"unusable ({error})"
    return credentials.method if credentials is not None else "none found"


def _error_code(error: Any) -> str:
    response = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code or status


# What an STS answers a web identity token it does not accept.
_TOKEN_REFUSED_CODES = frozenset({"InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim"})


def translate_error(error: BaseException, path: Optional[S3Path], action: str) -> S3Error:
    """Map a botocore exception to the S3Error seqr answers with; messages name the path, never secrets."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProxyConnectionError,
        ReadTimeoutError,
        SSLError,
    )

    where = f"{path}" if path is not None else "S3"
    if isinstance(error, S3Error):
        return error
    if isinstance(error, ClientError):
        code = _error_code(error)
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        operation = str(getattr(error, "operation_name", ""))
        if operation.startswith("AssumeRole"):
            # botocore's call for a role session (assume_role, web_identity) failed before any S3 request.
            if code in _DENIED_CODES or code in _TOKEN_REFUSED_CODES or status == "403":
                return S3AccessDenied(
                    f"the STS refused this server a role session ({operation}: {code}) to {action} {where}; "
                    "check the role's trust policy, and for web_identity the token file",
                    path,
                )
            return S3Unavailable(
                f"the STS gave this server no role session ({operation}: {code}) to {action} {where}", path
            )
        if code in _NOT_FOUND_CODES or status == "404":
            return S3NotFound(f"{where} does not exist", path)
        if code in _DENIED_CODES or status == "403":
            return S3AccessDenied(f"S3 denied this server access to {where} ({code or status})", path)
        if code in _RANGE_CODES or status == "416":
            return S3RangeNotSatisfiable(f"the requested range is outside {where}", path)
        if code in _CHANGED_CODES or status == "412":
            return S3Unavailable(f"{where} changed while it was being read; try again", path)
        return S3Unavailable(f"S3 could not {action} {where} ({code or status or 'unknown error'})", path)
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return S3Timeout(f"S3 did not answer in time while trying to {action} {where}", path)
    if isinstance(error, SSLError):
        return S3Unavailable(
            f"TLS verification of the S3 endpoint failed while trying to {action} {where} "
            f"({tls_failure_reason(error)}); seqr_s3 never reads without it: check the endpoint's "
            "certificate and the CA bundle of the AWS profile (ca_bundle)",
            path,
        )
    if isinstance(error, ProxyConnectionError):
        return S3Unavailable(
            f"cannot reach the S3 endpoint through the egress proxy to {action} {where}", path
        )
    if isinstance(error, (EndpointConnectionError, ConnectionClosedError)):
        return S3Unavailable(f"cannot reach the S3 endpoint to {action} {where}", path)
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return S3AccessDenied(f"this server has no usable S3 credentials to {action} {where}", path)
    return S3Unavailable(f"S3 failed to {action} {where} ({type(error).__name__})", path)


_TLS_REASON = re.compile(r"certificate verify failed: ([^(\]]+)|(hostname '[^']*' doesn't match [^)\]]+)")


def tls_failure_reason(error: BaseException) -> str:
    """What OpenSSL (or the host name check) said about a failed TLS connection, e.g. 'certificate has
    expired', without botocore's part of the message, which names the URL."""
    inner = getattr(error, "kwargs", {}).get("error", error)
    found = _TLS_REASON.search(str(inner))
    if found is None:
        return "TLS handshake failed"
    return (found.group(1) or found.group(2)).strip().rstrip(".")


def _call(settings: S3Settings, path: S3Path, action: str, method: str, **params: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    client = get_client(settings, METADATA if method == "head_object" else DATA)
    try:
        return getattr(client, method)(Bucket=path.bucket, Key=path.key, **params)
    except (BotoCoreError, ClientError) as error:
        mapped = translate_error(error, path, action)
        # A missing object is routine (igv.js probes x.bam.bai before x.bai); the rest deserves a warning.
        level = logging.INFO if isinstance(mapped, S3NotFound) else logging.WARNING
        logger.log(level, "seqr_s3: %s %s failed: %s (HTTP %s)", action, path, mapped, mapped.status)
        raise mapped from None


def head_object(settings: S3Settings, path: S3Path) -> ObjectInfo:
    """HEAD one object: its size, ETag, Last-Modified and Content-Type."""
    response = _call(settings, path, "read", "head_object")
    return ObjectInfo(
        size=int(response["ContentLength"]),
        etag=response.get("ETag"),
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType"),
    )


def info_from_get(response: dict[str, Any]) -> Optional[ObjectInfo]:
    """What a HEAD would have said, read from a GET's answer; None when the answer does not tell the size.

    A 200 carries the whole object, so its Content-Length is the size; a 206 names the size after the slash
    of its Content-Range ("bytes 0-99/5000"). A store that answers "/*" leaves the size unknown.
    """
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status == 200 and "ContentRange" not in response:
        size = int(response["ContentLength"])
    elif status == 206:
        _, slash, total = str(response.get("ContentRange", "")).rpartition("/")
        if not slash or not total.isdigit():
            return None
        size = int(total)
    else:
        return None
    return ObjectInfo(
        size=size,
        etag=response.get("ETag"),
        last_modified=response.get("LastModified"),
        content_type=response.get("ContentType"),
    )


def object_exists(settings: S3Settings, path: S3Path) -> bool:
    """True when the object exists, by HEAD (a prefix listing would let 'a.bam' match 'a.bam.bai')."""
    try:
        head_object(settings, path)
    except S3NotFound:
        return False
    return True


def get_object(
    settings: S3Settings, path: S3Path, range_header: Optional[str] = None, if_match: Optional[str] = None
) -> dict[str, Any]:
    """GET one object, optionally one byte range; the caller must close ``response['Body']``."""
    params: dict[str, Any] = {}
    if range_header:
        params["Range"] = range_header
    if if_match:
        params["IfMatch"] = if_match
    return _call(settings, path, "read", "get_object", **params)


def presign(
    settings: S3Settings,
    path: S3Path,
    method: str = "GET",
    content_type: Optional[str] = None,
    content_disposition: Optional[str] = None,
) -> tuple[str, str]:
    """Presign a GET (or HEAD) of the object and return the URL and the Host header it was signed for.

    ``content_type`` / ``content_disposition``: what S3 must answer with instead of the object's stored
    metadata (response-content-type / response-content-disposition, part of the signature), for URLs a
    browser opens itself (redirect mode).

    The HTTP method is part of a SigV4 signature, so a HEAD request needs a URL presigned for HEAD. A URL
    signed less than PRESIGN_REUSE_FRACTION of its lifetime ago (PRESIGN_EXPIRY, or what was left of the
    credentials it was signed with) for the same object, method and client settings is returned again instead
    of signing anew.
    """
    url, host, _ = presign_with_deadline(settings, path, method, content_type, content_disposition)
    return url, host


def presign_with_deadline(
    settings: S3Settings,
    path: S3Path,
    method: str = "GET",
    content_type: Optional[str] = None,
    content_disposition: Optional[str] = None,
) -> tuple[str, str, float]:
    """presign(), and when (on _presigned_urls' monotonic clock) S3 stops accepting the URL, for a caller that
    hands it on to be kept (authorize-once)."""
    overrides = {}
    if content_type is not None:
        overrides["ResponseContentType"] = content_type
    if content_disposition is not None:
        overrides["ResponseContentDisposition"] = content_disposition
    cache_key = (
        *_client_key(settings),
        settings.presign_expiry,
        path.bucket,
        path.key,
        method,
        tuple(sorted(overrides.items())),
    )
    remembered = _presigned_urls.get(cache_key)
    if remembered is not None:
        return remembered
    signed_at = _presigned_urls.clock()
    url, host = _sign(settings, path, method, overrides)
    lifetime = min(settings.presign_expiry, credentials_seconds_left(get_client(settings)))
    answer = (url, host, signed_at + lifetime)
    if lifetime > 0:
        _presigned_urls.put(cache_key, answer, lifetime * PRESIGN_REUSE_FRACTION)
    return answer


def seconds_until(deadline: float) -> float:
    """Seconds from now to a deadline presign_with_deadline() gave."""
    return deadline - _presigned_urls.clock()


def credentials_seconds_left(client: Any) -> float:
    """Seconds until the credentials ``client`` signs with expire: temporary ones (assume_role, web_identity,
    an instance or task role, credential_process) carry an expiry, keys in a file do not (infinity). Read
    after signing, so botocore has already renewed credentials that were near their end."""
    # botocore has no public accessor for either: a client keeps its credentials on its request signer, and
    # RefreshableCredentials their expiry in _expiry_time (python/tests/unit/test_credentials_expiry.py holds
    # both to botocore's real classes).
    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    if credentials is None or not hasattr(credentials, "_expiry_time"):
        return math.inf
    expiry = credentials._expiry_time
    if expiry is None:  # refreshable, never fetched yet: nothing known, so nothing reused
        return 0.0
    return (expiry - datetime.now(timezone.utc)).total_seconds()


def _sign(settings: S3Settings, path: S3Path, method: str, overrides: dict[str, str]) -> tuple[str, str]:
    """botocore's presigning (no network): the URL and the Host it was signed for."""
    from botocore.exceptions import BotoCoreError, ClientError

    client_method = "head_object" if method == "HEAD" else "get_object"
    client = get_client(settings)
    try:
        url = client.generate_presigned_url(
            client_method,
            Params={"Bucket": path.bucket, "Key": path.key, **overrides},
            ExpiresIn=settings.presign_expiry,
        )
    except (BotoCoreError, ClientError) as error:
        mapped = translate_error(error, path, "presign")
        logger.warning("seqr_s3: presign %s failed: %s", path, mapped)
        raise mapped from None
    return url, urlsplit(url).netloc


class S3BodyStream:
    """Iterate an S3 body in CHUNK_SIZE pieces; close() (WSGI server, also on disconnect) releases it."""

    def __init__(self, body: Any, chunk_size: int, path: S3Path) -> None:
        self._body = body
        self._chunk_size = chunk_size
        self._path = path
        self.bytes_read = 0
        self.finished = False
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.closed:
            raise StopIteration
        try:
            chunk = self._body.read(self._chunk_size)
        except Exception as error:
            mapped = translate_error(error, self._path, "stream")
            logger.warning(
                "seqr_s3: streaming %s broke off after %d bytes: %s", self._path, self.bytes_read, mapped
            )
            self.close()
            # Headers are already sent: raising makes the server drop the connection, so the client sees a
            # truncated answer instead of silently wrong data.
            raise mapped from None
        if not chunk:
            self.finished = True
            self.close()
            raise StopIteration
        self.bytes_read += len(chunk)
        return chunk

    def close(self) -> None:
        """Release the S3 connection; safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        if not self.finished:
            # Usually the client went away (the WSGI server closes the iterator then): say so, for operators.
            logger.info(
                "seqr_s3: S3 stream of %s closed before its end, after %d bytes", self._path, self.bytes_read
            )
        self._body.close()
