"""Authorize once (the role's seqr_s3_nginx_authorize_ttl) through real nginx, gunicorn and SeaweedFS.

nginx asks seqr once per session and track whether it may read it, keeps the grant (with the presigned URL)
for TTL seconds and fetches every range from S3 itself. seqr is reached through a recording front, so each
test counts the requests seqr really received; the stand-in writes its audit trail to a file. The stand-in is
private (its database is changed by the revocation tests).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from fixtures.nginx import worker_owned_folder
from fixtures.standin import accel_secret_of, login_session, manage, session_cookie_name
from s3_track_support import (
    RANGE_BATTERY,
    RangeCase,
    RecordingS3Front,
    assert_answer,
    seqr_s3_config,
    start_private_standin,
    track_url,
)
from seqr_s3.access import REFUSAL_MESSAGE

PROJECT_1 = "R0001_project_1"
PROJECT_2 = "R0002_project_2"
TTL = 3
# Waiting this long after a change lets every grant made before it end.
AFTER_TTL = TTL + 1.5


@dataclass
class AuthorizeStack:
    base_url: str
    seqr: RecordingS3Front
    audit_log: Path
    standin: Any
    users: dict[str, Any]
    nginx: Any
    cache: Path

    def login(self, role: str) -> requests.Session:
        user = self.users[role]
        return login_session(self.base_url, user.email, user.password)

    def seqr_track_requests(self, fragment: str = "") -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.seqr.recorded() if "/igv_track/" in p and fragment in p]

    def audit_lines(self) -> list[dict[str, Any]]:
        text = self.audit_log.read_text() if self.audit_log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def shell(self, code: str) -> None:
        manage(self.standin.env, "shell", "-c", code)


@pytest.fixture(scope="module")
def authorize(
    tmp_path_factory, s3_server, s3_bucket, standin_data, nginx_factory
) -> Iterator[AuthorizeStack]:
    workdir = tmp_path_factory.mktemp("authorize_once")
    audit_log = workdir / "seqr_s3_audit.log"
    standin = start_private_standin(
        workdir,
        s3_server,
        standin_data.seed,
        seqr_s3_config("accel", s3_server),
        s3_server.reader.secret_key,
        extra_env={"SEQR_S3_AUDIT_LOG": str(audit_log)},
    )
    seqr = RecordingS3Front(int(standin.bind.rsplit(":", 1)[1]))
    seqr.start()
    cache = worker_owned_folder("seqr_s3_authorized_")
    try:
        behind_front = SimpleNamespace(bind=seqr.url.removeprefix("http://"), env=standin.env)
        nginx = nginx_factory(
            behind_front,
            seqr_s3_nginx_authorize_ttl=TTL,
            seqr_s3_nginx_session_cookie_name=session_cookie_name(standin.env),
            seqr_s3_nginx_authorize_cache_path=str(cache),
        )
        yield AuthorizeStack(nginx.base_url, seqr, audit_log, standin, standin_data.users, nginx, cache)
    finally:
        seqr.stop()
        standin.stop()
        shutil.rmtree(cache, ignore_errors=True)


def _check(response: requests.Response, case: RangeCase, data: bytes) -> None:
    """The battery's answer, with the headers every read answer carries."""
    assert_answer(response, case, data)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    if response.status_code != 416:
        assert response.headers["Content-Type"] == "application/octet-stream"


@pytest.fixture(scope="module")
def with_slice_cache(authorize: AuthorizeStack, nginx_factory) -> Iterator[str]:
    """A second nginx in front of the same seqr with authorize once and the slice cache, each in its own
    folder: the grants never share the cached reads' folder."""
    slices = worker_owned_folder("seqr_s3_slices_")
    grants = worker_owned_folder("seqr_s3_authorized_")
    try:
        nginx = nginx_factory(
            SimpleNamespace(bind=authorize.seqr.url.removeprefix("http://"), env=authorize.standin.env),
            seqr_s3_nginx_authorize_ttl=TTL,
            seqr_s3_nginx_session_cookie_name=session_cookie_name(authorize.standin.env),
            seqr_s3_nginx_authorize_cache_path=str(grants),
            seqr_s3_nginx_slice_cache=True,
            seqr_s3_nginx_slice_cache_path=str(slices),
        )
        yield nginx.base_url
    finally:
        shutil.rmtree(slices, ignore_errors=True)
        shutil.rmtree(grants, ignore_errors=True)


def test_range_battery_with_the_slice_cache_too(
    authorize: AuthorizeStack, with_slice_cache: str, s3_bucket
) -> None:
    """The slice cache composes: the same answers for every case, twice (cold, then from the cache)."""
    session = login_session(
        with_slice_cache, authorize.users["collaborator"].email, authorize.users["collaborator"].password
    )
    bam = s3_bucket["bam"]
    data = bam.read_local()
    url = track_url(with_slice_cache, PROJECT_1, bam.s3_path)
    for _ in range(2):
        for case in RANGE_BATTERY:
            _check(session.get(url, headers={"Range": case.header_for(len(data))}, timeout=60), case, data)


def test_head_and_if_range_with_authorize_once(authorize: AuthorizeStack, s3_bucket) -> None:
    session = authorize.login("collaborator")
    bam = s3_bucket["bam"]
    data = bam.read_local()
    url = track_url(authorize.base_url, PROJECT_1, bam.s3_path)
    head = session.head(url, headers={"Range": "bytes=10-19"}, timeout=60)
    assert (head.status_code, head.headers["Content-Range"], head.content) == (
        206,
        f"bytes 10-19/{len(data)}",
        b"",
    )
    etag = session.get(url, headers={"Range": "bytes=0-0"}, timeout=60).headers["ETag"]
    assert (
        session.get(url, headers={"Range": "bytes=5-9", "If-Range": etag}, timeout=60).content == data[5:10]
    )
    stale = session.get(url, headers={"Range": "bytes=5-9", "If-Range": '"stale"'}, timeout=60)
    assert (stale.status_code, stale.content) == (200, data)


def test_an_igv_session_asks_seqr_once_per_track(authorize: AuthorizeStack, s3_bucket) -> None:
    """The index, then 20 ranges of the BAM: one seqr request per track (all well within one TTL, since
    the grant is made by the first request of each track; a slow machine could only add requests, which this
    test would then report)."""
    session = authorize.login("collaborator")
    bam, index = s3_bucket["cram"], s3_bucket["crai"]
    data = bam.read_local()
    authorize.seqr.reset()
    audited_before = len(authorize.audit_lines())
    started = time.monotonic()
    assert session.get(track_url(authorize.base_url, PROJECT_1, index.s3_path), timeout=60).status_code == 200
    step = max(1, len(data) // 21)
    for number in range(20):
        first = number * step
        answer = session.get(
            track_url(authorize.base_url, PROJECT_1, bam.s3_path),
            headers={"Range": f"bytes={first}-{first + 999}"},
            timeout=60,
        )
        assert answer.status_code == 206
        assert answer.content == data[first : first + 1000]
    if time.monotonic() - started >= TTL:
        pytest.fail("the session took longer than the TTL on this machine; cannot judge one grant per TTL")
    assert len(authorize.seqr_track_requests(".crai")) == 1
    assert len(authorize.seqr_track_requests(".cram")) - len(authorize.seqr_track_requests(".crai")) == 1
    # One audit line per decision (a grant per track, the TTL stated), none per range.
    lines = authorize.audit_lines()[audited_before:]
    assert sorted(
        (line["path"], line["decision"], line["grant_seconds"], line["status"]) for line in lines
    ) == [
        (bam.s3_path, "allowed", TTL, 200),
        (index.s3_path, "allowed", TTL, 200),
    ]
    assert "X-Amz-Signature" not in authorize.audit_log.read_text()


def test_a_second_user_never_gets_the_first_users_grant(authorize: AuthorizeStack, s3_bucket) -> None:
    """Project 2's user asks for project 1's BAM (and project 1's user for project 2's) right after the
    owner was granted it: each gets today's refusal from seqr, and seqr is asked."""
    owner, other = authorize.login("collaborator"), authorize.login("other")
    for reader, stranger, project, name in (
        (owner, other, PROJECT_1, "bam"),
        (other, owner, PROJECT_2, "project2_bam"),
    ):
        url = track_url(authorize.base_url, project, s3_bucket[name].s3_path)
        assert reader.get(url, headers={"Range": "bytes=0-99"}, timeout=60).status_code == 206
        authorize.seqr.reset()
        refused = stranger.get(url, headers={"Range": "bytes=0-99"}, timeout=60)
        assert refused.status_code in (403, 404), refused.text[:200]
        assert refused.content != s3_bucket[name].read_local()[:100]
        assert authorize.seqr_track_requests(), "seqr was not asked about the second user"


def test_without_seqrs_session_cookie_no_grant_is_kept_or_shared(
    authorize: AuthorizeStack, s3_bucket, nginx_factory
) -> None:
    """nginx keyed on a cookie seqr never sets (a name assumed instead of read from seqr's settings): no
    request carries it, so no grant is kept, and a second user is never served the first one's read."""
    grants = worker_owned_folder("seqr_s3_authorized_")
    try:
        nginx = nginx_factory(
            SimpleNamespace(bind=authorize.seqr.url.removeprefix("http://"), env=authorize.standin.env),
            seqr_s3_nginx_authorize_ttl=TTL,
            seqr_s3_nginx_session_cookie_name="not_seqrs_session_cookie",
            seqr_s3_nginx_authorize_cache_path=str(grants),
        )
        users = authorize.users
        owner = login_session(nginx.base_url, users["collaborator"].email, users["collaborator"].password)
        other = login_session(nginx.base_url, users["other"].email, users["other"].password)
        url = track_url(nginx.base_url, PROJECT_1, s3_bucket["bam"].s3_path)
        assert owner.get(url, headers={"Range": "bytes=0-99"}, timeout=60).status_code == 206
        authorize.seqr.reset()
        refused = other.get(url, headers={"Range": "bytes=0-99"}, timeout=60)
        assert refused.status_code == 403, refused.text[:200]
        assert authorize.seqr_track_requests(), "seqr was not asked about the second user"
        assert not [path for path in grants.rglob("*") if path.is_file()], (
            "a grant was kept without a session"
        )
    finally:
        shutil.rmtree(grants, ignore_errors=True)


def test_anonymous_and_refused_reads_ask_seqr_every_time(authorize: AuthorizeStack, s3_bucket) -> None:
    session = authorize.login("collaborator")
    anonymous = requests.Session()
    allowed = track_url(authorize.base_url, PROJECT_1, s3_bucket["bam"].s3_path)
    refused = track_url(authorize.base_url, PROJECT_1, s3_bucket["project2_bam"].s3_path)
    outside = track_url(authorize.base_url, PROJECT_1, s3_bucket["private_bam"].s3_path)
    assert session.get(allowed, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 206
    for client, url, expected in (
        (anonymous, allowed, 401),
        (session, refused, 403),
        (session, outside, 403),
    ):
        authorize.seqr.reset()
        audited_before = len(authorize.audit_lines())
        for _ in range(3):
            answer = client.get(url, headers={"Range": "bytes=0-9"}, timeout=60)
            assert answer.status_code == expected, answer.text[:200]
            if expected == 403:
                assert answer.json() == {"error": REFUSAL_MESSAGE}
        # Each of the three reached seqr twice (the grant question, then seqr's own answer): neither the
        # refusal nor the decline was kept.
        assert len(authorize.seqr_track_requests()) == 6, authorize.seqr.recorded()
        if expected == 403:
            # One audit line per decision: seqr's refusal; the decline of the grant question adds none.
            lines = authorize.audit_lines()[audited_before:]
            assert [(line["decision"], line["status"]) for line in lines] == [("refused", 403)] * 3


def test_revocation_is_honoured_after_the_ttl(authorize: AuthorizeStack, s3_bucket) -> None:
    """Logging out, losing the project and an IGV sample removed: refused once the TTL has passed."""
    unicode_url = track_url(authorize.base_url, PROJECT_1, s3_bucket["unicode_bam"].s3_path)
    bam_url = track_url(authorize.base_url, PROJECT_1, s3_bucket["odd_chars_bam"].s3_path)

    # An IGV sample removed. A Range nginx leaves to seqr ("bytes=0-9,") is read the per-request way first,
    # several times so both workers have checked the registration (a worker remembers one for 10 s).
    session = authorize.login("collaborator")
    assert session.get(unicode_url, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 206
    for _ in range(6):
        assert session.get(unicode_url, headers={"Range": "bytes=0-9,"}, timeout=60).status_code == 206
    authorize.shell(
        "from seqr.models import IgvSample; "
        f"IgvSample.objects.filter(file_path={s3_bucket['unicode_bam'].s3_path!r}).delete()"
    )
    time.sleep(AFTER_TTL)
    assert session.get(unicode_url, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 403

    # Logged out: the old cookie is worth nothing once the grant ends.
    assert session.get(bam_url, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 206
    old_cookies = requests.utils.dict_from_cookiejar(session.cookies)
    session.get(f"{authorize.base_url}/logout", timeout=60)
    time.sleep(AFTER_TTL)
    replay = requests.get(bam_url, headers={"Range": "bytes=0-9"}, cookies=old_cookies, timeout=60)
    assert replay.status_code == 401, replay.text[:200]

    # The project taken away.
    session = authorize.login("collaborator")
    assert session.get(bam_url, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 206
    authorize.shell(
        "from seqr.models import Project; "
        f"p = Project.objects.get(guid={PROJECT_1!r}); p.can_view_group.user_set.clear()"
    )
    try:
        time.sleep(AFTER_TTL)
        assert session.get(bam_url, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 403
    finally:
        authorize.shell(
            "from django.contrib.auth.models import User; from seqr.models import Project; "
            f"p = Project.objects.get(guid={PROJECT_1!r}); "
            "p.can_view_group.user_set.add(User.objects.get(username='collaborator'))"
        )


def test_no_signature_in_nginx_logs_or_readable_cache(authorize: AuthorizeStack, s3_bucket) -> None:
    session = authorize.login("collaborator")
    url = track_url(authorize.base_url, PROJECT_1, s3_bucket["bam"].s3_path)
    assert session.get(url, headers={"Range": "bytes=0-9"}, timeout=60).status_code == 206
    for log in authorize.nginx.prefix.rglob("*.log"):
        assert "X-Amz-Signature" not in log.read_text(errors="replace"), log
    assert any(path.is_file() for path in authorize.cache.rglob("*")), "no grant was kept"
    for path in [authorize.cache, *authorize.cache.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, path
    # The error log names no signature either (nginx logs declines of the grant question without URLs).
    assert "X-Amz-" not in authorize.nginx.error_log()


def test_only_nginx_gets_a_grant(authorize: AuthorizeStack, s3_bucket) -> None:
    """Straight at gunicorn: without nginx's secret X-Seqr-S3-Authorize is ignored (the bytes, as proxy mode);
    with it, only 1-300 seconds ask for a grant, anything else gets the ordinary accel answer."""
    session = authorize.login("collaborator")
    url = track_url(authorize.standin.base_url, PROJECT_1, s3_bucket["bam"].s3_path)
    cookies = requests.utils.dict_from_cookiejar(session.cookies)
    data = s3_bucket["bam"].read_local()
    forged = requests.get(
        url, headers={"X-Seqr-S3-Authorize": "3", "Range": "bytes=0-9"}, cookies=cookies, timeout=60
    )
    assert (forged.status_code, forged.content) == (206, data[:10])
    assert not [name for name in forged.headers if name.lower().startswith("x-seqr-s3")]
    secret = {"X-Seqr-S3-Accel-Secret": accel_secret_of(authorize.standin.env)}
    for value in ("0", "301", "abc", "-1", "per-request"):
        answer = requests.get(
            url, headers={**secret, "X-Seqr-S3-Authorize": value}, cookies=cookies, timeout=60
        )
        assert answer.headers.get("X-Accel-Redirect") == "/_seqr_s3_internal/", value
    grant = requests.get(url, headers={**secret, "X-Seqr-S3-Authorize": "3"}, cookies=cookies, timeout=60)
    assert (grant.status_code, grant.content) == (200, b"")
    assert "X-Accel-Redirect" not in grant.headers and "X-Amz-Signature=" in grant.headers["X-Seqr-S3-Url"]
    refused = track_url(authorize.standin.base_url, PROJECT_1, s3_bucket["project2_bam"].s3_path)
    decline = requests.get(
        refused, headers={**secret, "X-Seqr-S3-Authorize": "3"}, cookies=cookies, timeout=60
    )
    assert (decline.status_code, decline.content) == (403, b"")
