"""The seqr stand-in behaves like upstream seqr at commit c5f3572, defects included, when run for real
under gunicorn: these are the behaviours seqr_s3 must keep for non-s3 paths and fix for s3:// ones."""

from __future__ import annotations

import gzip
import html
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from fixtures.standin import STANDIN_DIR, StandinError, StandinServer, manage, standin_env

IGV_CSS_HASHES_2_10_5 = (
    "'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='",
    "'sha256-s8l0U2/BsebhfOvm08Z+4w1MnftmnPeoOMbSi+f5hCI='",
    "'sha256-T9widob1zmlNnk3NzLRUfXFToG7AkPTuLDXaKU2tc6c='",
    "'sha256-ITHmamcImsZ/Je1xrdtDLZVvRSpj1Zokb6uHXORB824='",
)


def track_url(server: StandinServer, project_guid: str, path: str) -> str:
    """The URL seqr's UI builds: the track path goes through encodeURIComponent."""
    return f"{server.base_url}/api/project/{project_guid}/igv_track/{quote(path, safe='')}"


@pytest.fixture(scope="module")
def upstream(standin_factory) -> StandinServer:
    """The stand-in alone, without seqr_s3: today's upstream seqr."""
    return standin_factory(None)


@pytest.fixture(scope="module")
def collaborator(upstream, seeded_session) -> requests.Session:
    return seeded_session(upstream, "collaborator")


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def test_page_carries_seqrs_content_security_policy(upstream: StandinServer) -> None:
    answer = requests.get(upstream.base_url + "/", timeout=10)
    assert answer.status_code == 200
    csp = csp_directives(answer.headers["Content-Security-Policy"])
    for directive in ("style-src", "style-src-elem"):
        assert csp[directive][:2] == ["https://fonts.googleapis.com", "'self'"]
        assert tuple(csp[directive][2:6]) == IGV_CSS_HASHES_2_10_5
        assert csp[directive][6].startswith("'nonce-")
    assert any(source.startswith("'nonce-") for source in csp["script-src"])
    assert csp["connect-src"][0] == "'self'"
    assert "https://s3.amazonaws.com" in csp["connect-src"]
    assert len(csp["connect-src"]) == 9
    assert answer.cookies.get("csrf_token")


def test_anonymous_api_call_is_sent_to_the_401_endpoint(upstream: StandinServer, reads) -> None:
    url = track_url(upstream, "R0001_project_1", str(reads.bam))
    redirected = requests.get(url, allow_redirects=False, timeout=10)
    assert redirected.status_code == 302
    assert redirected.headers["Location"].startswith("/api/login-required-error")
    followed = requests.get(url, timeout=10)
    assert followed.status_code == 401
    assert followed.json() == {"error": "/login"}


def test_login_rejects_a_wrong_password(upstream: StandinServer, standin_data) -> None:
    session = requests.Session()
    session.get(upstream.base_url + "/", timeout=10)
    answer = session.post(
        upstream.base_url + "/api/login",
        json={"email": standin_data.users["collaborator"].email, "password": "not-the-password"},
        headers={"X-CSRFToken": session.cookies["csrf_token"]},
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json() == {"error": "Invalid credentials"}


def test_login_without_csrf_token_is_refused(upstream: StandinServer, standin_data) -> None:
    user = standin_data.users["collaborator"]
    answer = requests.post(
        upstream.base_url + "/api/login", json={"email": user.email, "password": user.password}, timeout=10
    )
    assert answer.status_code == 403


IGV_PAGE = "/project/R0001_project_1/igv_reads?individual=I_bam&locus=chr1:1000-1400"


def login_form(session: requests.Session, url: str) -> dict[str, str]:
    """The hidden fields of the login page's form (Django's CSRF token, ``next``), as a browser sends them."""
    page = session.get(url, timeout=10)
    assert page.status_code == 200
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text)
    return {name: html.unescape(value) for name, value in fields}


def post_login(server: StandinServer, session: requests.Session, fields: dict[str, str]) -> requests.Response:
    """Submit the login form the way a browser does (form encoding, the page's Origin), not following."""
    return session.post(
        server.base_url + "/login",
        data=fields,
        headers={"Origin": server.base_url},
        allow_redirects=False,
        timeout=10,
    )


def test_igv_page_sends_an_anonymous_visitor_to_the_login_page(upstream: StandinServer) -> None:
    """As upstream's pages: not the API's 401 JSON but the login page, told where to come back to."""
    answer = requests.get(upstream.base_url + IGV_PAGE, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [IGV_PAGE]


def test_login_page_form_logs_in_and_goes_on_to_the_page(upstream: StandinServer, standin_data) -> None:
    user = standin_data.users["collaborator"]
    session = requests.Session()
    fields = login_form(session, upstream.base_url + "/login?next=" + quote(IGV_PAGE, safe=""))
    assert fields["next"] == IGV_PAGE
    assert fields["csrfmiddlewaretoken"]
    answer = post_login(upstream, session, {**fields, "email": user.email.upper(), "password": user.password})
    assert answer.status_code == 302
    assert answer.headers["Location"] == IGV_PAGE
    page = session.get(upstream.base_url + IGV_PAGE, allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert 'id="igv-reads-config"' in page.text


def test_login_page_refuses_a_wrong_password_and_a_missing_csrf_token(
    upstream: StandinServer, standin_data
) -> None:
    user = standin_data.users["collaborator"]
    session = requests.Session()
    fields = login_form(session, upstream.base_url + "/login")
    wrong = post_login(upstream, session, {**fields, "email": user.email, "password": "not-the-password"})
    assert wrong.status_code == 401
    assert "Invalid credentials" in wrong.text
    no_token = {"next": "/", "email": user.email, "password": user.password}
    assert post_login(upstream, session, no_token).status_code == 403
    assert "sessionid" not in session.cookies
    assert session.get(upstream.base_url + IGV_PAGE, allow_redirects=False, timeout=10).status_code == 302


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/x", "project/x"])
def test_login_page_goes_only_to_paths_of_this_site(upstream: StandinServer, standin_data, target) -> None:
    user = standin_data.users["collaborator"]
    session = requests.Session()
    fields = login_form(session, upstream.base_url + "/login")
    answer = post_login(
        upstream, session, {**fields, "next": target, "email": user.email, "password": user.password}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_local_range_has_seqrs_content_range_without_total(upstream, collaborator, reads) -> None:
    answer = collaborator.get(
        track_url(upstream, "R0001_project_1", str(reads.bam)),
        headers={"Range": "bytes=100-1099"},
        timeout=10,
    )
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == "bytes 100-1099"  # upstream's defect: no "/size"
    assert answer.headers["Content-Length"] == "1000"
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.content == reads.bam.read_bytes()[100:1100]


def test_local_file_without_range_is_streamed_whole(upstream, collaborator, reads) -> None:
    answer = collaborator.get(track_url(upstream, "R0001_project_1", str(reads.crai)), timeout=10)
    assert answer.status_code == 200
    assert answer.content == reads.crai.read_bytes()


def test_content_length_comes_from_the_request_not_the_file(upstream, collaborator, reads) -> None:
    size = reads.bam.stat().st_size
    url = track_url(upstream, "R0001_project_1", str(reads.bam))
    # Upstream announces the requested length even past the end of the file; the body is shorter, so the
    # connection breaks or the client sees fewer bytes than announced.
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        collaborator.get(url, headers={"Range": f"bytes={size - 10}-{size + 989}"}, timeout=10).content  # noqa: B018


def test_open_ended_range_crashes_like_upstream(upstream, collaborator, reads) -> None:
    answer = collaborator.get(
        track_url(upstream, "R0001_project_1", str(reads.bam)), headers={"Range": "bytes=100-"}, timeout=10
    )
    assert answer.status_code == 500
    assert "invalid literal for int()" in answer.json()["error"]


def test_bam_bai_falls_back_to_dot_bai(upstream, collaborator, reads) -> None:
    asked_for = str(reads.bam_only_bai) + ".bai"  # what igv.js asks for
    answer = collaborator.get(track_url(upstream, "R0001_project_1", asked_for), timeout=10)
    assert answer.status_code == 200
    assert answer.content == reads.only_bai.read_bytes()


def test_non_collaborator_gets_403(upstream, seeded_session, reads) -> None:
    other = seeded_session(upstream, "other")
    answer = other.get(track_url(upstream, "R0001_project_1", str(reads.bam)), timeout=10)
    assert answer.status_code == 403
    assert answer.json()["error"] == "Permission Denied"
    # ...while the same file is streamed to them through their own project: seqr never checks IgvSample.
    own = other.get(track_url(upstream, "R0002_project_2", str(reads.bam)), headers={"Range": "bytes=0-9"})
    assert own.status_code == 206
    assert own.content == reads.bam.read_bytes()[:10]


def test_unknown_project_is_404(upstream, collaborator, reads) -> None:
    answer = collaborator.get(track_url(upstream, "R9999_missing", str(reads.bam)), timeout=10)
    assert answer.status_code == 404


def test_superuser_may_view_any_project(upstream, seeded_session, reads) -> None:
    pm = seeded_session(upstream, "pm")
    answer = pm.get(track_url(upstream, "R0002_project_2", str(reads.bam)), headers={"Range": "bytes=0-3"})
    assert answer.status_code == 206
    assert answer.content == reads.bam.read_bytes()[:4]


def test_encoded_s3_path_reaches_fetch_igv_track_and_fails_like_upstream(upstream, collaborator, s3_bucket):
    """Today seqr treats s3:// as a local path: does_file_exist is False, so file_iter raises
    FileNotFoundError when gunicorn starts the streaming body, and the worker drops the connection."""
    url = track_url(upstream, "R0001_project_1", s3_bucket["bam"].s3_path)
    assert "s3%3A%2F%2F" in url
    for headers in ({"Range": "bytes=0-99"}, {}):
        with pytest.raises(requests.ConnectionError):
            collaborator.get(url, headers=headers, timeout=10)
    assert "FileNotFoundError: Could not access file s3://seqr-reads/reads/sample.bam" in upstream.log_text()
    # The permission check ran first: a non-collaborator is refused before any file access.
    assert (
        collaborator.get(track_url(upstream, "R0002_project_2", s3_bucket["bam"].s3_path)).status_code == 403
    )


def test_update_igv_sample_checks_suffix_and_existence(upstream, seeded_session, reads, s3_bucket) -> None:
    pm = seeded_session(upstream, "pm")
    url = f"{upstream.base_url}/api/individual/I_local/update_igv_sample"
    headers = {"X-CSRFToken": pm.cookies["csrf_token"]}

    s3_answer = pm.post(url, json={"filePath": s3_bucket["bam"].s3_path}, headers=headers, timeout=10)
    assert s3_answer.status_code == 400
    assert s3_answer.json() == {"error": f'Error accessing "{s3_bucket["bam"].s3_path}"'}

    suffix_answer = pm.post(url, json={"filePath": str(reads.fasta)}, headers=headers, timeout=10)
    assert suffix_answer.status_code == 400
    assert "Invalid file extension" in suffix_answer.json()["error"]

    missing_index = pm.post(
        url,
        json={"filePath": str(reads.bam), "indexFilePath": "/nonexistent.bai"},
        headers=headers,
        timeout=10,
    )
    assert missing_index.json() == {"error": 'Error accessing "/nonexistent.bai"'}

    ok = pm.post(url, json={"filePath": str(reads.cram), "indexFilePath": str(reads.crai)}, headers=headers)
    assert ok.status_code == 200
    sample = next(iter(ok.json()["igvSamplesByGuid"].values()))
    assert (sample["filePath"], sample["indexFilePath"], sample["sampleType"]) == (
        str(reads.cram),
        str(reads.crai),
        "alignment",
    )


def test_update_igv_sample_needs_a_manager(upstream, collaborator, reads) -> None:
    answer = collaborator.post(
        f"{upstream.base_url}/api/individual/I_local/update_igv_sample",
        json={"filePath": str(reads.bam)},
        headers={"X-CSRFToken": collaborator.cookies["csrf_token"]},
        timeout=10,
    )
    assert answer.status_code == 403


def run_in_standin(env: dict, code: str) -> str:
    """Run Python inside the stand-in's Django (manage.py shell) and return what it printed."""
    return manage(env, "shell", "-c", code).stdout


def test_modules_bind_file_utils_names_by_import(upstream) -> None:
    printed = run_in_standin(
        upstream.env,
        "import seqr.utils.file_utils as f, seqr.utils.vcf_utils as v, seqr.views.apis.igv_api as i\n"
        "f.file_iter = f.does_file_exist = None\n"  # replacing the module attributes...
        "print(v.file_iter is not None, v.does_file_exist is not None, i.file_iter is not None)\n",
    )
    assert printed.split() == ["True", "True", "True"]  # ...does not reach the copies


def test_file_iter_looks_up_does_file_exist_at_call_time(upstream, reads) -> None:
    printed = run_in_standin(
        upstream.env,
        "import seqr.utils.file_utils as f\n"
        "f.does_file_exist = lambda path, user=None: False\n"
        "try:\n"
        f"    next(f.file_iter({str(reads.bam)!r}, raw_content=True))\n"
        "except FileNotFoundError as e:\n"
        "    print('refused', e)\n",
    )
    assert printed.startswith("refused Could not access file")


def test_file_iter_contract_on_local_files(upstream, tmp_path: Path) -> None:
    text_file = tmp_path / "lines.txt"
    text_file.write_text("alpha\nbeta\ngamma\n")
    gz_file = tmp_path / "lines.txt.gz"
    gz_file.write_bytes(gzip.compress(b"one\ntwo\n"))
    printed = run_in_standin(
        upstream.env,
        "import json\n"
        "from seqr.utils.file_utils import file_iter\n"
        f"t = list(file_iter({str(text_file)!r}))\n"
        f"r = [x.decode() for x in file_iter({str(text_file)!r}, byte_range=(2, 8))]\n"
        f"raw = [x.decode() for x in file_iter({str(text_file)!r}, raw_content=True)]\n"
        f"g = list(file_iter({str(gz_file)!r}))\n"
        "print(json.dumps([t, r, raw, g]))\n",
    )
    text, ranged, raw, gunzipped = json.loads(printed)
    assert text == ["alpha\n", "beta\n", "gamma\n"]
    assert "".join(ranged) == "pha\nbet"  # bytes 2..8 inclusive
    assert raw == text
    assert gunzipped == ["one\n", "two\n"]


def test_vcf_utils_reads_a_compressed_header_through_a_byte_range(upstream, tmp_path: Path) -> None:
    vcf = tmp_path / "calls.vcf.gz"
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA1\tNA2\n"
    vcf.write_bytes(gzip.compress((header + "chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/0\n" * 5000).encode()))
    printed = run_in_standin(
        upstream.env,
        "from seqr.utils.vcf_utils import validate_vcf_and_get_samples\n"
        f"print(sorted(validate_vcf_and_get_samples({str(vcf)!r}, None)))\n"
        "from seqr.utils.middleware import ErrorsWarningsException\n"
        "try:\n"
        f"    validate_vcf_and_get_samples({str(tmp_path / 'missing.vcf')!r}, None)\n"
        "except ErrorsWarningsException as e:\n"
        "    print(e.errors)\n",
    )
    assert printed.splitlines() == [
        "['NA1', 'NA2']",
        f"['Data file or path {tmp_path / 'missing.vcf'} is not found.']",
    ]


def test_gs_paths_fail_clearly_without_gsutil(upstream, tmp_path: Path) -> None:
    # This machine may have the Google Cloud SDK; a PATH without it is what a stand-in host has.
    printed = run_in_standin(
        {**upstream.env, "PATH": str(tmp_path)},
        "from seqr.utils.file_utils import does_file_exist\n"
        "try:\n"
        "    does_file_exist('gs://bucket/x.bam')\n"
        "except RuntimeError as e:\n"
        "    print(e)\n",
    )
    assert "gsutil is not available in the seqr stand-in" in printed


def test_seed_is_idempotent_and_rejects_bad_input(tmp_path: Path, standin_data) -> None:
    env = standin_env(db_path=tmp_path / "db.sqlite3")
    manage(env, "migrate", "--noinput", "-v", "0")
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(standin_data.seed))
    count_rows = (
        "from seqr.models import IgvSample, Project; from django.contrib.auth.models import User\n"
        "print(IgvSample.objects.count(), Project.objects.count(), User.objects.count())"
    )
    manage(env, "standin_seed", str(seed_file))
    first = run_in_standin(env, count_rows)
    manage(env, "standin_seed", str(seed_file))
    assert run_in_standin(env, count_rows) == first
    assert first.split() == [str(len(standin_data.seed["igv_samples"])), "2", "3"]

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"igv_samples": [{"guid": "S_x", "individual": "I_nobody", "sample_type": "x"}]})
    )
    with pytest.raises(StandinError, match="no Individual with guid 'I_nobody'"):
        manage(env, "standin_seed", str(bad))
    bad.write_text("{not json")
    with pytest.raises(StandinError, match="not valid JSON"):
        manage(env, "standin_seed", str(bad))


@pytest.mark.parametrize("deployment_type", ["", "prod"])
def test_django_check_passes(tmp_path: Path, deployment_type: str) -> None:
    env = standin_env(db_path=tmp_path / "db.sqlite3", extra={"DEPLOYMENT_TYPE": deployment_type})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=STANDIN_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_logs_hold_no_password_or_s3_secret(upstream, seeded_session, standin_data, s3_server) -> None:
    seeded_session(upstream, "collaborator")  # at least one login has been logged
    log = upstream.log_text()
    assert "Logged in collaborator@example.org" in log
    for user in standin_data.users.values():
        assert user.password not in log
    assert s3_server.reader.secret_key not in log
    assert s3_server.admin.secret_key not in log


def test_file_utils_and_igv_api_keep_upstreams_signatures(upstream) -> None:
    """The names and parameters of upstream seqr's file_utils.py and igv_api.py at commit c5f3572 (annotations
    aside): seqr_s3's checks rely on them."""
    names = {
        "seqr.utils.file_utils": [
            "is_google_bucket_file_path",
            "does_file_exist",
            "file_iter",
            "list_files",
            "run_command",
            "get_google_project",
            "mv_file_to_gs",
            "run_gsutil_with_wait",
        ],
        "seqr.views.apis.igv_api": [
            "fetch_igv_track",
            "_stream_gs",
            "_stream_file",
            "update_individual_igv_sample",
        ],
    }
    printed = run_in_standin(
        upstream.env,
        "import importlib, inspect, json\n"
        f"names = {names!r}\n"
        "bare = lambda p: str(p.replace(annotation=inspect.Parameter.empty))\n"
        "find = lambda m, n: getattr(importlib.import_module(m), n)\n"
        "params = lambda m, n: inspect.signature(find(m, n)).parameters.values()\n"
        "out = {n: [bare(p) for p in params(m, n)] for m, ns in names.items() for n in ns}\n"
        "file_utils = importlib.import_module('seqr.utils.file_utils')\n"
        "out['has get_file_size'] = hasattr(file_utils, 'get_file_size')\n"
        "print(json.dumps(out))\n",
    )
    assert json.loads(printed) == {
        "is_google_bucket_file_path": ["file_path"],
        "does_file_exist": ["file_path", "user=None"],
        "file_iter": ["file_path", "byte_range=None", "raw_content=False", "user=None", "**kwargs"],
        "list_files": ["wildcard_path", "user", "check_subfolders=False", "allow_missing=True"],
        "run_command": ["command", "user=None", "pipe_errors=False"],
        "get_google_project": ["gs_path"],
        "mv_file_to_gs": ["local_path", "gs_path", "user=None"],
        "run_gsutil_with_wait": ["command", "gs_path", "user=None", "**kwargs"],
        "fetch_igv_track": ["request", "project_guid", "igv_track_path"],
        "_stream_gs": ["request", "gs_path"],
        "_stream_file": ["request", "path"],
        "update_individual_igv_sample": ["request", "individual_guid"],
        "has get_file_size": False,
    }


def test_list_files_globs_local_folders(upstream, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.vcf", "b.txt", "sub/c.vcf"):
        (tmp_path / name).write_text("x")
    printed = run_in_standin(
        upstream.env,
        "from seqr.utils.file_utils import list_files\n"
        f"print(sorted(list_files({str(tmp_path / '*.vcf')!r}, None)))\n"
        f"print(sorted(list_files({str(tmp_path)!r}, None, check_subfolders=True)))\n",
    )
    flat, recursive = printed.splitlines()
    assert flat == str([str(tmp_path / "a.vcf")])
    assert recursive == str(sorted(str(tmp_path / n) for n in ("a.vcf", "b.txt", "sub/c.vcf")))
