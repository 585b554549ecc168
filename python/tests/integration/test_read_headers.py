"""What a read's answer may carry, through real nginx, SeaweedFS and the stand-in's gunicorn (issue 13: 1, 5).

The session bucket holds ``reads/hostile_page.bam``, registered as a sample of project 1 but stored as an HTML
page with a <script>, Content-Disposition inline, a long Cache-Control and x-amz-meta-* headers. Served as a
read it must stay bytes in every mode: application/octet-stream with nosniff, none of the store's x-amz-*
headers, and in accel mode nginx's strict CSP. accel's X-Accel-Redirect (with its presigned URL) is only for
requests that carry the secret the role's nginx sends; a direct caller of gunicorn gets a streamed answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fixtures.reads import HOSTILE_BODY
from fixtures.seaweed import free_loopback_ports
from fixtures.standin import accel_secret_of
from s3_track_support import ACCEL_PER_REQUEST, Stack, seqr_s3_config, start_private_standin, track_url

PROJECT_1 = "R0001_project_1"
SECRET_HEADER = "X-Seqr-S3-Accel-Secret"
# Stored with the object; none of them may reach the browser from seqr's origin.
STORE_ONLY = ("inline", "max-age=31536000", "alert(1)", "from the store")


def _store_headers(response: requests.Response) -> list[str]:
    return [name for name in response.headers if name.lower().startswith(("x-amz-", "x-rgw-"))]


def _assert_served_as_bytes(response: requests.Response) -> None:
    assert response.headers["Content-Type"] == "application/octet-stream", response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.get("Content-Disposition") == "attachment"
    assert _store_headers(response) == [], response.headers
    for stored in STORE_ONLY:
        assert all(stored not in value for value in response.headers.values()), (stored, response.headers)
    # The signed URL and its parts never leave nginx/seqr.
    assert not {name.lower() for name in response.headers} & {
        "x-seqr-s3-url",
        "x-seqr-s3-host",
        "x-seqr-s3-range",
        "x-accel-redirect",
    }


def test_the_store_itself_sends_what_seqr_must_not_pass_on(s3_bucket: Any) -> None:
    """The control for the tests below: SeaweedFS answers this object as text/html with x-amz-meta-*."""
    client = s3_bucket.server.client()
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": s3_bucket.name, "Key": s3_bucket["hostile_page"].key}, ExpiresIn=60
    )
    direct = requests.get(url, timeout=30)
    assert direct.status_code == 200
    assert direct.headers["Content-Type"] == "text/html"
    assert direct.headers["Content-Disposition"] == "inline"
    assert {"x-amz-meta-evil", "x-amz-meta-note"} <= {name.lower() for name in _store_headers(direct)}


@pytest.mark.parametrize("mode", ["accel", "proxy"])
@pytest.mark.parametrize("range_header", [None, "bytes=0-15", "bytes=0-"])
def test_a_read_stored_as_html_is_served_as_bytes(
    make_stack: Callable[..., Stack], s3_bucket: Any, mode: str, range_header: str | None
) -> None:
    stack = make_stack(mode)
    headers = {"Range": range_header} if range_header else {}
    response = stack.session.get(
        track_url(stack.base_url, PROJECT_1, s3_bucket["hostile_page"].s3_path), headers=headers, timeout=30
    )
    assert response.status_code in (200, 206), response.text[:200]
    expected = HOSTILE_BODY[:16] if range_header == "bytes=0-15" else HOSTILE_BODY
    assert response.content == expected
    _assert_served_as_bytes(response)
    if mode == "accel":
        # nginx's internal location answers, not Django: it carries its own policy, stricter than seqr's.
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_accel_error_answers_carry_the_same_policy(make_stack: Callable[..., Stack], s3_bucket: Any) -> None:
    """A range past the end: S3's 416 becomes nginx's own short text answer, still nosniff and sandboxed."""
    stack = make_stack("accel")
    response = stack.session.get(
        track_url(stack.base_url, PROJECT_1, s3_bucket["hostile_page"].s3_path),
        headers={"Range": "bytes=100000-"},
        timeout=30,
    )
    assert response.status_code == 416
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert _store_headers(response) == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_redirect_asks_s3_for_bytes_and_attachment(
    make_stack: Callable[..., Stack], s3_bucket: Any, method: str
) -> None:
    """The presigned URL itself carries response-content-type/-disposition (signed: nobody can change them);
    the 302 from seqr carries nothing of the store's."""
    stack = make_stack("redirect")
    url = track_url(stack.base_url, PROJECT_1, s3_bucket["hostile_page"].s3_path)
    response = stack.session.request(method, url, timeout=30, allow_redirects=False)
    assert response.status_code == 302
    assert _store_headers(response) == []
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["response-content-type"] == ["application/octet-stream"]
    assert query["response-content-disposition"] == ["attachment"]
    followed = requests.request(
        method, response.headers["Location"], headers={"Range": "bytes=0-15"}, timeout=30
    )
    # SeaweedFS answers a ranged HEAD with 200; either way the type and disposition are the ones seqr signed.
    assert followed.status_code == (206 if method == "GET" else 200), followed.text[:200]
    assert followed.headers["Content-Type"] == "application/octet-stream"
    assert followed.headers["Content-Disposition"] == "attachment"


# --- accel's headers only for requests that came through the role's nginx ---------------------------------


@pytest.mark.parametrize("sent", [None, "forged", "almost"], ids=["no-secret", "forged", "one-char-off"])
def test_gunicorn_hands_no_presigned_url_to_a_direct_caller(
    make_stack: Callable[..., Stack], s3_bucket: Any, sent: str | None
) -> None:
    """Straight at gunicorn's port (upstream seqr binds 0.0.0.0:8000) without nginx's secret: a streamed
    answer with the right bytes, and no X-Accel-Redirect or presigned URL."""
    stack = make_stack("accel")
    secret = accel_secret_of(stack.standin.env)
    assert secret
    session = requests.Session()
    session.cookies.update(stack.session.cookies)
    if sent == "forged":
        session.headers[SECRET_HEADER] = "a" * len(secret)
    elif sent == "almost":
        session.headers[SECRET_HEADER] = secret[:-1] + ("0" if secret[-1] != "0" else "1")
    bam = s3_bucket["bam"]
    response = session.get(
        track_url(stack.standin.base_url, PROJECT_1, bam.s3_path), headers={"Range": "bytes=0-99"}, timeout=30
    )
    assert response.status_code == 206, response.text[:200]
    assert response.content == bam.read_local()[:100]
    names = {name.lower() for name in response.headers}
    assert not names & {"x-accel-redirect", "x-seqr-s3-url", "x-seqr-s3-host", "x-seqr-s3-range"}
    assert "X-Amz-Signature" not in str(response.headers)


def test_nginx_replaces_a_clients_secret_header(make_stack: Callable[..., Stack], s3_bucket: Any) -> None:
    """Through nginx a client's own X-Seqr-S3-Accel-Secret changes nothing: nginx sends its own, so the read
    is still answered by nginx's internal location (its CSP shows it)."""
    stack = make_stack("accel")
    bam = s3_bucket["bam"]
    response = stack.session.get(
        track_url(stack.base_url, PROJECT_1, bam.s3_path),
        headers={"Range": "bytes=0-99", SECRET_HEADER: "a" * 64},
        timeout=30,
    )
    assert response.status_code == 206
    assert response.content == bam.read_local()[:100]
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("nginx_vars", [None, ACCEL_PER_REQUEST], ids=["authorize-once", "per-request"])
def test_nginx_clears_a_clients_store_failed_header(
    make_stack: Callable[..., Stack], s3_bucket: Any, nginx_vars: dict[str, Any] | None
) -> None:
    """Only nginx says its fetch from S3 failed: a client's own X-Seqr-S3-Store-Failed is cleared, so seqr
    hands the read to nginx as always (with the header through, seqr would answer with a HEAD's verdict)."""
    stack = make_stack("accel", nginx_vars)
    bam = s3_bucket["bam"]
    response = stack.session.get(
        track_url(stack.base_url, PROJECT_1, bam.s3_path),
        headers={"Range": "bytes=0-99", "X-Seqr-S3-Store-Failed": "yes"},
        timeout=30,
    )
    assert response.status_code == 206, response.text[:300]
    assert response.content == bam.read_local()[:100]
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


# --- no signature in nginx's error log when S3 fails -----------------------------------------------------


def test_nginx_error_log_holds_no_signature_when_s3_fails(
    standin_factory: Callable[..., Any],
    nginx_factory: Callable[..., Any],
    seeded_session: Callable[..., requests.Session],
    s3_bucket: Any,
) -> None:
    """accel with S3 unreachable (nothing listens on the endpoint's port): nginx asks seqr again, which names
    the cause; nginx's error log (at nginx's default level, error) and seqr's hold neither the presigned URL
    nor any part of its signature."""
    dead_endpoint = f"http://127.0.0.1:{free_loopback_ports(1)[0]}"
    standin = standin_factory("accel", ENDPOINT_URL=dead_endpoint)
    nginx = nginx_factory(standin, seqr_s3_endpoint_url=dead_endpoint)
    session = seeded_session(nginx, "collaborator")
    for _ in range(3):
        response = session.get(
            track_url(nginx.base_url, PROJECT_1, s3_bucket["bam"].s3_path),
            headers={"Range": "bytes=0-99"},
            timeout=30,
        )
        assert response.status_code == 502, response.text[:200]
        assert response.json()["error"].startswith("cannot reach the S3 endpoint to read s3://")
    assert "cannot reach the S3 endpoint to read s3://" in standin.log_text()
    # What seqr signed for that read (the same URL is reused for a while): none of it may be logged.
    direct = requests.Session()
    direct.cookies.update(session.cookies)
    direct.headers[SECRET_HEADER] = accel_secret_of(standin.env)
    signed = direct.get(track_url(standin.base_url, PROJECT_1, s3_bucket["bam"].s3_path), timeout=30)
    secret_url = signed.headers["X-Seqr-S3-Url"]
    signature = parse_qs(urlsplit(secret_url).query)["X-Amz-Signature"][0]
    log = nginx.error_log() + (nginx.prefix / "stderr.log").read_text(errors="replace") + standin.log_text()
    for needle in ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-", signature, "sample.bam?"):
        assert needle not in log, f"{needle!r} in nginx's logs:\n{log}"
    access_log = (nginx.prefix / "access.log").read_text(errors="replace")
    assert re.search(r'igv_track/\S+ HTTP/1\.1" 502 ', access_log), access_log
    assert "X-Amz-" not in access_log


def test_a_failed_fetch_with_seqr_gone_too_is_the_short_502(
    tmp_path, s3_server: Any, standin_data: Any, nginx_factory: Callable[..., Any], seeded_session, s3_bucket
) -> None:
    """nginx keeps seqr's grant (authorize once), S3 is unreachable and seqr stops: the failed fetch cannot
    ask seqr either, and nginx answers its own short 502 with the read headers, not its HTML error page."""
    dead_endpoint = f"http://127.0.0.1:{free_loopback_ports(1)[0]}"
    standin = start_private_standin(
        tmp_path,
        s3_server,
        standin_data.seed,
        seqr_s3_config("accel", s3_server, ENDPOINT_URL=dead_endpoint),
        s3_server.reader.secret_key,
        workers=1,
    )
    try:
        nginx = nginx_factory(standin, seqr_s3_endpoint_url=dead_endpoint, seqr_s3_nginx_authorize_ttl=30)
        session = seeded_session(nginx, "collaborator")
        url = track_url(nginx.base_url, PROJECT_1, s3_bucket["bam"].s3_path)
        asked = session.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
        assert asked.status_code == 502
        assert asked.json()["error"].startswith("cannot reach the S3 endpoint to read s3://")
    finally:
        standin.stop()
    alone = session.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert (alone.status_code, alone.text) == (502, "The read store failed\n")
    assert alone.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert alone.headers["Content-Type"] == "text/plain"
