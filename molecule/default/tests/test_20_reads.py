"""IGV reads from Ceph through seqr in each mode (accel with authorize once, the role's default; accel with a
seqr request per range; proxy; redirect; accel + slice cache), byte for byte.

Each mode is applied by re-running the role with its variables (as an operator would), then every
fixture gets the same battery of Range headers. Expected answers are computed here from RFC 9110 and the
object's size; the expected bytes come from the local files prepare uploaded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional
from urllib.parse import urlsplit

import pytest
import requests
import testinfra
from conftest import REQUEST_TIMEOUT, Scenario, ensure_role

# "accel": as the role sets it up by default (authorize once: seqr_s3_nginx_authorize_ttl > 0);
# "accel-per-request": a seqr request per range (TTL 0); "accel+cache": accel (authorize once) with the role's
# optional nginx slice cache (seqr_s3_nginx_slice_cache) on this host.
MODES = ["accel", "accel-per-request", "proxy", "redirect", "accel+cache"]
ROLE_VARS_OF_MODE = {
    "accel": {"seqr_s3_mode": "accel"},
    "accel-per-request": {"seqr_s3_mode": "accel", "seqr_s3_nginx_authorize_ttl": 0},
    "proxy": {"seqr_s3_mode": "proxy"},
    "redirect": {"seqr_s3_mode": "redirect"},
    "accel+cache": {"seqr_s3_mode": "accel", "seqr_s3_nginx_slice_cache": True},
}
SLICE_CACHE_PATH = "/var/cache/seqr_s3_nginx"
# The role's default seqr_s3_nginx_authorize_cache_path: nginx's grants (they hold presigned URLs).
GRANTS_PATH = "/run/seqr_s3_nginx_authorize"

# Fixtures served through project 1: (object name in the manifest, object name whose bytes are expected).
# The .bam.bai of sample_only_bai exists only as .bai: seqr's fallback must serve the .bai's bytes.
TRACKS = [
    ("bam", "bam"),
    ("bam_bai", "bam_bai"),
    ("only_bai_bam", "only_bai_bam"),
    ("cram", "cram"),
    ("crai", "crai"),
    ("unicode_bam", "unicode_bam"),
    ("unicode_bai", "unicode_bai"),
    ("large", "large"),
]
BLOCK = 65536


def battery(size: int) -> list[tuple[str, Optional[tuple[int, int]]]]:
    """Range headers igv.js and other clients send, each with the inclusive byte range RFC 9110 selects.

    None as the range means 416 (unsatisfiable). Ranges past the end are clamped, suffixes longer than the
    object select all of it.
    """

    def clamp(first: int, last: int) -> Optional[tuple[int, int]]:
        return None if first >= size else (first, min(last, size - 1))

    middle = size // 2
    cases = [
        ("bytes=0-0", clamp(0, 0)),
        ("bytes=0-1", clamp(0, 1)),
        ("bytes=0-1023", clamp(0, 1023)),
        ("bytes=0-65535", clamp(0, BLOCK - 1)),
        ("bytes=1-1", clamp(1, 1)),
        ("bytes=100-199", clamp(100, 199)),
        (f"bytes={BLOCK}-{2 * BLOCK + 99}", clamp(BLOCK, 2 * BLOCK + 99)),
        (f"bytes={middle}-{middle + 999}", clamp(middle, middle + 999)),
        (f"bytes={middle}-", clamp(middle, size - 1)),
        ("bytes=0-", clamp(0, size - 1)),
        (f"bytes={size - 1}-{size - 1}", clamp(size - 1, size - 1)),
        (f"bytes={size - 10}-", clamp(max(size - 10, 0), size - 1)),
        (f"bytes=0-{size + 1000}", clamp(0, size + 1000)),
        (f"bytes={size - 5}-{size + 5}", clamp(size - 5, size + 5)),
        ("bytes=-1", (size - 1, size - 1)),
        ("bytes=-16", (max(size - 16, 0), size - 1)),
        (f"bytes=-{BLOCK}", (max(size - BLOCK, 0), size - 1)),
        (f"bytes=-{size + 10}", (0, size - 1)),
        (f"bytes={size}-", None),
        (f"bytes={size + 100}-{size + 200}", None),
    ]
    # The large object is read whole once per mode (no-Range test); skip ranges that would repeat that.
    if size > 64 * 1024 * 1024:
        cases = [case for case in cases if case[1] is None or case[1][1] - case[1][0] < 64 * 1024 * 1024]
    return cases


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """The role applied with this mode's variables (converge left accel, so accel needs no run)."""
    ensure_role(**ROLE_VARS_OF_MODE[request.param])
    return request.param


def get(
    session: requests.Session, url: str, mode: str, method: str = "GET", **headers: str
) -> requests.Response:
    """A request as the browser makes it; in redirect mode the browser follows seqr's 302 to S3 itself."""
    response = session.request(
        method, url, headers=headers, timeout=REQUEST_TIMEOUT, allow_redirects=(mode == "redirect")
    )
    if mode == "redirect" and response.history:
        assert response.history[0].status_code == 302
    return response


def assert_redirected_to_s3(response: requests.Response, scenario: Scenario) -> None:
    """In redirect mode the answer must come from the S3 store by way of a 302 with a SigV4 presigned URL."""
    assert response.history, "redirect mode answered without a redirect"
    location = response.history[0].headers["Location"]
    assert urlsplit(location).netloc == urlsplit(scenario.s3_endpoint).netloc
    assert "X-Amz-Signature=" in location and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in location
    # Real seqr's CacheControlMiddleware appends its never-cache directives; what matters is that ours stay.
    directives = {part.strip() for part in response.history[0].headers.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= directives


@pytest.mark.parametrize(("track", "expected"), TRACKS)
def test_range_battery(
    mode: str, scenario: Scenario, analyst: requests.Session, track: str, expected: str
) -> None:
    uri = scenario.objects[track]["uri"]
    size = scenario.objects[expected]["size"]
    failures = []
    for header, selected in battery(size):
        response = get(analyst, scenario.track_url(uri), mode, Range=header)
        if mode == "redirect":
            assert_redirected_to_s3(response, scenario)
        if selected is None:
            if response.status_code != 416:
                failures.append(f"{header}: status {response.status_code}, expected 416")
            elif response.headers.get("Content-Range") not in (None, f"bytes */{size}"):
                failures.append(f"{header}: 416 with Content-Range {response.headers['Content-Range']}")
            continue
        first, last = selected
        got = {
            "status": response.status_code,
            "Content-Range": response.headers.get("Content-Range"),
            "Content-Length": response.headers.get("Content-Length"),
        }
        want = {
            "status": 206,
            "Content-Range": f"bytes {first}-{last}/{size}",
            "Content-Length": str(last - first + 1),
        }
        if got != want:
            failures.append(f"{header}: got {got}, expected {want}")
        elif response.content != scenario.expected_bytes(expected, first, last):
            failures.append(f"{header}: the bytes differ from the object's")
    assert not failures, f"{mode} {uri}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("track", "expected"), TRACKS)
def test_whole_object_without_range(
    mode: str, scenario: Scenario, analyst: requests.Session, track: str, expected: str
) -> None:
    """No Range: 200 and the whole object (the large one too, streamed and hashed, never truncated)."""
    response = analyst.get(
        scenario.track_url(scenario.objects[track]["uri"]),
        timeout=REQUEST_TIMEOUT,
        allow_redirects=(mode == "redirect"),
        stream=True,
    )
    assert response.status_code == 200
    size = scenario.objects[expected]["size"]
    assert response.headers.get("Content-Length") == str(size)
    digest, received = hashlib.sha256(), 0
    for chunk in response.iter_content(1 << 20):
        digest.update(chunk)
        received += len(chunk)
    assert received == size
    with open(scenario.objects[expected]["file"], "rb") as f:
        assert digest.hexdigest() == hashlib.file_digest(f, "sha256").hexdigest()


def test_bam_index_fallback(mode: str, scenario: Scenario, analyst: requests.Session) -> None:
    """igv.js asks for <name>.bam.bai; when only <name>.bai exists, seqr serves that one."""
    only_bai_bam = scenario.objects["only_bai_bam"]["uri"]
    response = get(analyst, scenario.track_url(only_bai_bam + ".bai"), mode, Range="bytes=0-99")
    assert response.status_code == 206
    size = scenario.objects["only_bai"]["size"]
    assert response.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert response.content == scenario.expected_bytes("only_bai", 0, 99)


@pytest.mark.parametrize("track", ["bam", "unicode_bam", "large"])
def test_head(mode: str, scenario: Scenario, analyst: requests.Session, track: str) -> None:
    """HEAD gives the size without a body (igv.js and curl -I use it)."""
    response = get(analyst, scenario.track_url(scenario.objects[track]["uri"]), mode, method="HEAD")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(scenario.objects[track]["size"])
    assert response.content == b""
    ranged = get(
        analyst, scenario.track_url(scenario.objects[track]["uri"]), mode, method="HEAD", Range="bytes=0-9"
    )
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 0-9/{scenario.objects[track]['size']}"
    assert ranged.content == b""


def test_unicode_key_is_fetched_by_its_encoded_name(
    mode: str, scenario: Scenario, analyst: requests.Session
) -> None:
    """The key with spaces and non-ASCII letters arrives percent-encoded and must name exactly that object."""
    entry = scenario.objects["unicode_bam"]
    assert " " in entry["key"] and not entry["key"].isascii()
    url = scenario.track_url(entry["uri"])
    assert "%20" in url and "%C3%A4" in url  # a space and 'ä', as encodeURIComponent writes them
    response = get(analyst, url, mode, Range="bytes=0-3")
    assert response.status_code == 206
    assert response.content == scenario.expected_bytes("unicode_bam", 0, 3)


def _assert_refused(
    response: requests.Response, scenario: Scenario, statuses: tuple[int, ...] = (403,)
) -> None:
    assert response.status_code in statuses, f"expected {statuses}, got {response.status_code}"
    assert not response.history, "a refused request must not be redirected to S3"
    assert "X-Amz-Signature" not in response.text and "X-Amz-Signature" not in json.dumps(
        dict(response.headers)
    )
    assert scenario.expected_bytes("bam", 0, 15) not in response.content


def test_outside_allow_list_is_refused(mode: str, scenario: Scenario, analyst: requests.Session) -> None:
    """Registered to the project and readable with the same keys, but its bucket is not allow-listed."""
    response = get(analyst, scenario.track_url(scenario.objects["outside"]["uri"]), mode, Range="bytes=0-15")
    _assert_refused(response, scenario)


def test_another_projects_path_is_refused(mode: str, scenario: Scenario, analyst: requests.Session) -> None:
    """An allow-listed object registered to another project, asked for through the user's own project."""
    response = get(
        analyst, scenario.track_url(scenario.objects["other_project_bam"]["uri"]), mode, Range="bytes=0-15"
    )
    _assert_refused(response, scenario)
    index = get(
        analyst, scenario.track_url(scenario.objects["other_project_bai"]["uri"]), mode, Range="bytes=0-15"
    )
    _assert_refused(index, scenario)


def test_project_the_user_cannot_view_is_refused(
    mode: str, scenario: Scenario, analyst: requests.Session
) -> None:
    """The other project's own URL: seqr's permission check refuses before any S3 code runs."""
    url = scenario.track_url(
        scenario.objects["other_project_bam"]["uri"], project=scenario.manifest["other_project"]
    )
    _assert_refused(get(analyst, url, mode, Range="bytes=0-15"), scenario, statuses=(403, 404))


def test_anonymous_requests_are_refused(mode: str, scenario: Scenario) -> None:
    """seqr sends an anonymous API call to its 401 endpoint; nothing of the object, no presigned URL."""
    url = scenario.track_url(scenario.objects["bam"]["uri"])
    response = requests.get(
        url, headers={"Range": "bytes=0-15"}, timeout=REQUEST_TIMEOUT, allow_redirects=False
    )
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/api/login-required-error"
        response = requests.get(url, headers={"Range": "bytes=0-15"}, timeout=REQUEST_TIMEOUT)
        assert urlsplit(response.url).path == "/api/login-required-error"
        assert response.status_code == 401
        response = response.history[-1] if response.history else response
    assert "X-Amz-Signature" not in response.text and "X-Amz-Signature" not in json.dumps(
        dict(response.headers)
    )
    assert scenario.expected_bytes("bam", 0, 15) not in response.content


def test_slice_cache_keeps_reads_for_nginx_only_and_goes_when_switched_off(
    mode: str, seqr_host: testinfra.host.Host, scenario: Scenario, analyst: requests.Session
) -> None:
    """Runs last for accel+cache: the reads above left slices in a folder only nginx's user can enter; the
    role switched back to plain accel deletes it (patient reads must not stay on disk unused)."""
    if mode != "accel+cache":
        pytest.skip("only the slice cache leaves reads on the host")
    folder = seqr_host.file(SLICE_CACHE_PATH)
    assert folder.is_directory
    assert (folder.user, folder.mode) == ("www-data", 0o700)
    cached = seqr_host.run(f"find {SLICE_CACHE_PATH}/slices -type f | wc -l")
    assert cached.rc == 0 and int(cached.stdout) > 0, "the battery above left no slices in the cache"
    ensure_role(**ROLE_VARS_OF_MODE["accel"])
    assert not seqr_host.file(SLICE_CACHE_PATH).exists
    response = get(analyst, scenario.track_url(scenario.objects["bam"]["uri"]), "accel", Range="bytes=0-99")
    assert response.status_code == 206
    assert response.content == scenario.expected_bytes("bam", 0, 99)


def test_authorize_once_grants_stay_nginxs(
    mode: str, seqr_host: testinfra.host.Host, scenario: Scenario, analyst: requests.Session
) -> None:
    """accel's default: the reads above left grants (presigned URLs) in a folder only nginx's user can enter,
    apart from the slice cache's, and no nginx log names a signature."""
    if mode != "accel":
        pytest.skip("only accel with authorize once keeps grants")
    response = get(analyst, scenario.track_url(scenario.objects["bam"]["uri"]), mode, Range="bytes=0-99")
    assert response.status_code == 206
    folder = seqr_host.file(GRANTS_PATH)
    assert folder.is_directory
    assert (folder.user, folder.mode) == ("www-data", 0o700)
    kept = seqr_host.run(f"find {GRANTS_PATH} -type f | wc -l")
    assert kept.rc == 0 and int(kept.stdout) > 0, "the reads above left no grant"
    readable = seqr_host.run(f"find {GRANTS_PATH} -perm /077")
    assert readable.rc == 0 and readable.stdout.strip() == "", readable.stdout
    logs = seqr_host.run("grep -rlsF X-Amz-Signature /var/log/nginx")
    assert logs.stdout.strip() == "", logs.stdout
