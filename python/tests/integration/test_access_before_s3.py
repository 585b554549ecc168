"""No S3 request before the access checks, one answer for every refusal, and the read audit trail.

seqr (the stand-in under gunicorn, with the role's nginx in front in accel mode) talks to SeaweedFS through a
recording front that counts every request S3 receives. For each refused case, in each mode, S3 must receive
nothing and the user must get the same status and body whatever the reason (outside the allow-list, another
project's path, a missing object). The same stacks write the ``seqr_s3.audit`` logger to a file: one JSON line
per decision, with who, what, which range, the mode and the rule that refused, and never a signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from fixtures.nginx import load_role_renderer
from fixtures.standin import accel_secret_of
from s3_track_support import (
    RecordingS3Front,
    Stack,
    seqr_s3_config,
    start_private_standin,
    track_url,
)
from seqr_s3.access import REFUSAL_MESSAGE
from seqr_s3.files import S3PathNotAllowed

PROJECT_1 = "R0001_project_1"
# The role's default seqr_s3_nginx_authorize_ttl: what an accel read's audit line states as its grant.
DEFAULT_AUTHORIZE_TTL = load_role_renderer().role_variables()["seqr_s3_nginx_authorize_ttl"]
MODES = ["proxy", "accel", "redirect"]
# accel as the role sets it up (authorize once), and with a seqr request per range (TTL 0).
ACCEL_PER_REQUEST = "accel-per-request"

# Refused for the collaborator of project 1, with the rule the audit line must name.
REFUSED = {
    # Registered to project 1, but outside ALLOWED_PREFIXES.
    "outside_allow_list": ("s3://seqr-reads/private/other.bam", "not_under_allowed_prefixes"),
    "outside_allow_list_index": ("s3://seqr-reads/private/other.bam.bai", "not_under_allowed_prefixes"),
    "another_bucket_index": ("s3://someone-elses-bucket/secret.bam.bai", "not_under_allowed_prefixes"),
    # Project 2's reads, in the same bucket and allowed prefix.
    "other_project": ("s3://seqr-reads/reads/project2/sample.bam", "not_registered_to_project"),
    "other_project_index": ("s3://seqr-reads/reads/project2/sample.bam.bai", "not_registered_to_project"),
    # Objects that do not exist: the answer must not differ from the two above.
    "other_project_missing": ("s3://seqr-reads/reads/project2/missing.bam.bai", "not_registered_to_project"),
    "unregistered_missing": ("s3://seqr-reads/reads/nothing-here.bam", "not_registered_to_project"),
}


class RecordedStacks:
    """Per mode a stand-in (and nginx for accel) whose S3 is reached through one recording front."""

    def __init__(self, front: RecordingS3Front, build: Callable[[str], Stack], audit_logs: dict[str, Path]):
        self.front = front
        self._build = build
        self._built: dict[str, Stack] = {}
        self.audit_logs = audit_logs

    def __call__(self, mode: str) -> Stack:
        if mode not in self._built:
            self._built[mode] = self._build(mode)
        return self._built[mode]

    def audit_lines(self, mode: str) -> list[dict[str, Any]]:
        text = self.audit_logs[mode].read_text() if self.audit_logs[mode].exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def front(s3_server) -> Iterator[RecordingS3Front]:
    recorder = RecordingS3Front(int(s3_server.endpoint_url.rsplit(":", 1)[1]))
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory, s3_server, s3_bucket, standin_data, nginx_factory, seeded_session, front
) -> Iterator[RecordedStacks]:
    standins: list[Any] = []
    audit_logs: dict[str, Path] = {}

    def build(name: str) -> Stack:
        mode = "accel" if name == ACCEL_PER_REQUEST else name
        workdir = tmp_path_factory.mktemp(f"recorded_{name}")
        audit_logs[name] = workdir / "seqr_s3_audit.log"
        standin = start_private_standin(
            workdir,
            s3_server,
            standin_data.seed,
            seqr_s3_config(mode, s3_server, ENDPOINT_URL=front.url),
            s3_server.reader.secret_key,
            extra_env={"SEQR_S3_AUDIT_LOG": str(audit_logs[name])},
        )
        standins.append(standin)
        entry = standin
        if mode == "accel":
            ttl = {"seqr_s3_nginx_authorize_ttl": 0} if name == ACCEL_PER_REQUEST else {}
            entry = nginx_factory(standin, seqr_s3_endpoint_url=front.url, **ttl)
        return Stack(mode, entry.base_url, seeded_session(entry, "collaborator"), standin)

    stacks = RecordedStacks(front, build, audit_logs)
    try:
        yield stacks
    finally:
        for standin in standins:
            standin.stop()


def _get(session: requests.Session, stack: Stack, project: str, path: str) -> requests.Response:
    return session.get(track_url(stack.base_url, project, path), headers={"Range": "bytes=0-99"}, timeout=60)


@pytest.mark.parametrize("case", sorted(REFUSED))
@pytest.mark.parametrize("mode", MODES)
def test_refused_reads_send_s3_nothing_and_look_alike(recorded: RecordedStacks, mode: str, case: str) -> None:
    stack = recorded(mode)
    path, rule = REFUSED[case]
    recorded.front.reset()
    response = _get(stack.session, stack, PROJECT_1, path)
    assert recorded.front.recorded() == []
    # One answer for every rule and for objects that exist or not: nothing to learn about other paths.
    assert (response.status_code, response.json()) == (403, {"error": REFUSAL_MESSAGE})
    assert "X-Accel-Redirect" not in response.headers and "Location" not in response.headers
    line = [entry for entry in recorded.audit_lines(mode) if entry["path"] == path][-1]
    assert (line["decision"], line["rule"], line["status"]) == ("refused", rule, 403)
    assert (line["user"], line["project"], line["mode"], line["range"]) == (
        "collaborator",
        PROJECT_1,
        mode,
        "bytes=0-99",
    )


@pytest.mark.parametrize("mode", MODES)
def test_seqrs_own_project_check_sends_s3_nothing(
    recorded: RecordedStacks, seeded_session, mode: str
) -> None:
    stack = recorded(mode)
    other = seeded_session(SimpleNamespace(base_url=stack.base_url), "other")
    recorded.front.reset()
    response = _get(other, stack, PROJECT_1, "s3://seqr-reads/reads/sample.bam.bai")
    assert response.status_code == 403
    assert recorded.front.recorded() == []


@pytest.mark.parametrize("mode", MODES)
def test_the_index_fallback_is_decided_after_the_checks(
    recorded: RecordedStacks, s3_bucket, mode: str
) -> None:
    """x.bam.bai missing, x.bai there (x.bam registered): S3 sees a HEAD of x.bam.bai, then the .bai read."""
    stack = recorded(mode)
    asked = s3_bucket["only_bai_bam"].s3_path + ".bai"
    recorded.front.reset()
    response = stack.session.get(track_url(stack.base_url, PROJECT_1, asked), timeout=60)
    assert response.status_code == 200
    assert response.content == s3_bucket["only_bai"].read_local()
    assert recorded.front.recorded() == [
        ("HEAD", "/seqr-reads/reads/sample_only_bai.bam.bai"),
        ("GET", "/seqr-reads/reads/sample_only_bai.bai"),
    ]
    line = [entry for entry in recorded.audit_lines(mode) if entry["path"] == asked][-1]
    assert (line["decision"], line["object"]) == ("allowed", s3_bucket["only_bai"].s3_path)


def _post_sample(server: Any, session: requests.Session, body: dict) -> requests.Response:
    headers = {"X-CSRFToken": session.cookies.get("csrf_token"), "Referer": server.base_url + "/"}
    url = f"{server.base_url}/api/individual/I_bam/update_igv_sample"
    return session.post(url, json=body, headers=headers, timeout=60)


def test_registering_a_sample_outside_the_allow_list_sends_s3_nothing(
    recorded: RecordedStacks, seeded_session, s3_bucket
) -> None:
    """seqr's own path validation (update_individual_igv_sample -> does_file_exist) for a PM."""
    server = recorded("proxy").standin
    pm = seeded_session(server, "pm")
    for outside in ("s3://seqr-reads/private/other.bam", "s3://someone-elses-bucket/x.bam"):
        recorded.front.reset()
        answer = _post_sample(server, pm, {"filePath": outside})
        assert (answer.status_code, answer.json()["error"]) == (400, f'Error accessing "{outside}"')
        assert recorded.front.recorded() == []
    # The file is allowed (one HEAD), its index is not (no request).
    recorded.front.reset()
    index = "s3://seqr-reads/private/other.bam.bai"
    answer = _post_sample(server, pm, {"filePath": s3_bucket["bam"].s3_path, "indexFilePath": index})
    assert (answer.status_code, answer.json()["error"]) == (400, f'Error accessing "{index}"')
    assert recorded.front.recorded() == [("HEAD", "/seqr-reads/reads/sample.bam")]
    lines = [entry for entry in recorded.audit_lines("proxy") if entry["source"] == "does_file_exist"]
    by_path = {entry["path"]: entry for entry in lines}
    assert by_path[index]["decision"] == "refused"
    assert by_path[index]["rule"] == "not_under_allowed_prefixes"
    assert by_path[index]["user"] == "pm"
    assert (by_path[s3_bucket["bam"].s3_path]["decision"], by_path[s3_bucket["bam"].s3_path]["exists"]) == (
        "allowed",
        True,
    )


def test_other_seqr_modules_get_a_clear_refusal_without_s3(
    seqr_in_process, front: RecordingS3Front, s3_bucket
) -> None:
    """does_file_exist and file_iter as vcf_utils/file_utils call them: False / FileNotFoundError, no S3."""
    from django.contrib.auth.models import User
    from seqr.utils import file_utils, vcf_utils

    seqr_in_process.use("proxy", ENDPOINT_URL=front.url)
    pm = User.objects.get(username="pm")
    outside = "s3://seqr-reads/private/other.bam"
    front.reset()
    assert vcf_utils.does_file_exist(outside, user=pm) is False
    with pytest.raises(FileNotFoundError, match="not under an allowed S3 prefix") as refusal:
        next(file_utils.file_iter(outside, byte_range=(0, 3), raw_content=True, user=pm))
    assert type(refusal.value) is S3PathNotAllowed
    assert front.recorded() == []
    # The control: an allowed path is read (through the same recording front).
    allowed = s3_bucket["bam"].s3_path
    assert (
        next(file_utils.file_iter(allowed, byte_range=(0, 3), raw_content=True, user=pm))
        == b"\x1f\x8b\x08\x04"
    )
    assert vcf_utils.does_file_exist(allowed, user=pm) is True
    assert front.recorded() == [
        ("GET", "/seqr-reads/reads/sample.bam"),
        ("HEAD", "/seqr-reads/reads/sample.bam"),
    ]


@pytest.mark.parametrize("name", [*MODES, ACCEL_PER_REQUEST])
def test_an_allowed_read_is_audited_without_secrets(
    recorded: RecordedStacks, s3_bucket, s3_server, name
) -> None:
    stack = recorded(name)
    mode = stack.mode
    path = s3_bucket["bam"].s3_path
    response = _get(stack.session, stack, PROJECT_1, path)
    assert response.status_code == 206
    line = [entry for entry in recorded.audit_lines(name) if entry["path"] == path][-1]
    assert line["event"] == "s3_read" and line["source"] == "igv_track"
    assert (line["user"], line["user_email"], line["project"], line["mode"]) == (
        "collaborator",
        "collaborator@example.org",
        PROJECT_1,
        mode,
    )
    # A grant (authorize once) covers every range of the object for its TTL: it names none.
    asked_range = None if name == "accel" else "bytes=0-99"
    assert (line["decision"], line["rule"], line["object"], line["range"]) == (
        "allowed",
        None,
        path,
        asked_range,
    )
    assert line["time"].endswith("+00:00")
    expected = {
        # seqr's own answer: with authorize once nginx is granted the track for the role's TTL and fetches
        # each range itself; per request accel hands nginx the canonical range, proxy sends the 206 itself,
        # redirect sends the browser to S3 with a URL that is valid for PRESIGN_EXPIRY seconds.
        "accel": (200, None, DEFAULT_AUTHORIZE_TTL),
        ACCEL_PER_REQUEST: (200, "bytes=0-99", 0),
        "proxy": (206, f"bytes 0-99/{len(s3_bucket['bam'].read_local())}", 0),
        "redirect": (302, None, 300),
    }[name]
    assert (line["status"], line["served_range"], line["grant_seconds"]) == expected
    text = recorded.audit_logs[name].read_text()
    for secret in ("X-Amz-Signature", "X-Amz-Credential", "Signature=", s3_server.reader.secret_key):
        assert secret not in text
    assert s3_server.reader.access_key not in text


def test_nginx_asking_after_a_failed_fetch_is_decided_again_before_s3(
    recorded: RecordedStacks, s3_bucket
) -> None:
    """accel's second question (X-Seqr-S3-Store-Failed, with nginx's secret): refused paths send S3 nothing
    and get the one refusal; an allowed one costs one HEAD, never a read, never another hand-over to nginx.
    A client without the secret gets the ordinary proxy answer whatever that header says."""
    standin = recorded("accel").standin
    nginx_says = {"X-Seqr-S3-Accel-Secret": accel_secret_of(standin.env), "X-Seqr-S3-Store-Failed": "yes"}
    session = requests.Session()
    session.cookies.update(recorded("accel").session.cookies)
    for path, _ in REFUSED.values():
        recorded.front.reset()
        response = session.get(track_url(standin.base_url, PROJECT_1, path), headers=nginx_says, timeout=60)
        assert (response.status_code, response.json()) == (403, {"error": REFUSAL_MESSAGE}), path
        assert recorded.front.recorded() == []
    bam = s3_bucket["bam"]
    recorded.front.reset()
    response = session.get(
        track_url(standin.base_url, PROJECT_1, bam.s3_path), headers=nginx_says, timeout=60
    )
    assert response.status_code == 502
    assert "the read store failed while nginx read" in response.json()["error"]
    assert "X-Accel-Redirect" not in response.headers and "X-Seqr-S3-Url" not in response.headers
    assert recorded.front.recorded() == [("HEAD", "/seqr-reads/reads/sample.bam")]
    line = [entry for entry in recorded.audit_lines("accel") if entry["path"] == bam.s3_path][-1]
    assert (line["decision"], line["status"], line["nginx_fetch"]) == ("allowed", 502, "failed")

    client_says = {"X-Seqr-S3-Store-Failed": "yes", "Range": "bytes=0-99"}
    response = session.get(
        track_url(standin.base_url, PROJECT_1, bam.s3_path), headers=client_says, timeout=60
    )
    assert (response.status_code, response.content) == (206, bam.read_local()[:100])
