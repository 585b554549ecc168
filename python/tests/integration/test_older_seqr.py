"""seqr_s3 on the shapes of older seqr (fixtures.standin_shapes): before 2021-06-25 (no ``user`` anywhere),
2021-06..2024-03 (file_iter without **kwargs, no IgvSample.index_file_path) and 2024-04..2024-07 (no
index_file_path). Reads in every mode through
real gunicorn (and the role's nginx for accel); ``manage.py check`` passes there, fails naming the cause on a
model the registration query cannot use; and an unforeseen failure on the read path is a JSON 500 with a
seqr_s3 log line, provoked for real by a model whose field was renamed and by a store that answers garbage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fixtures.standin import STANDIN_DIR, TESTS_DIR, prepare_database, standin_dir_of, start_standin
from fixtures.standin_shapes import copy_standin
from s3_track_support import run_check, track_url

PROJECT_1 = "R0001_project_1"
SHAPES = ("2021-05", "2021-11", "2024-04")
MODES = ("proxy", "redirect", "accel")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES)
def test_reads_on_older_seqr(standin_factory, nginx_factory, seeded_session, s3_bucket, shape, mode) -> None:
    standin = standin_factory(mode, shape=shape)
    assert (standin_dir_of(standin.env) / "seqr" / "models.py").read_text().count("index_file_path") == 0
    server = nginx_factory(standin) if mode == "accel" else standin
    session = seeded_session(server, "collaborator")
    bam = s3_bucket["bam"].read_local()
    reads = {
        # a registered file, a range of it, its derived .bam.bai, a CRAM's derived .crai, and the .bai
        # fallback of a BAM that has only x.bai (decided by seqr_s3 after its access check)
        "bam": (s3_bucket["bam"].s3_path, {"Range": "bytes=100-4099"}, bam[100:4100]),
        "bai": (s3_bucket["bam"].s3_path + ".bai", {}, s3_bucket["bam_bai"].read_local()),
        "crai": (s3_bucket["crai"].s3_path, {}, s3_bucket["crai"].read_local()),
        "only_bai": (s3_bucket["only_bai_bam"].s3_path + ".bai", {}, s3_bucket["only_bai"].read_local()),
    }
    for label, (path, headers, expected) in reads.items():
        answer = session.get(track_url(server.base_url, PROJECT_1, path), headers=headers, timeout=60)
        assert answer.status_code in (200, 206), (label, answer.status_code, answer.text[:300])
        assert answer.content == expected, label
    other = session.get(track_url(server.base_url, PROJECT_1, s3_bucket["project2_bam"].s3_path), timeout=60)
    assert other.status_code == 403


@pytest.mark.parametrize("shape", SHAPES)
def test_registering_checks_existence_on_older_seqr(
    standin_factory, seeded_session, s3_bucket, shape
) -> None:
    """seqr's update_igv_sample calls does_file_exist as that seqr did (before 2021-06: no user): the wrapper
    passes the caller's arguments on unchanged and answers for the s3:// path."""
    server = standin_factory("proxy", shape=shape)
    pm = seeded_session(server, "pm")
    url = f"{server.base_url}/api/individual/I_bam/update_igv_sample"
    headers = {"X-CSRFToken": pm.cookies.get("csrf_token"), "Referer": server.base_url + "/"}
    same = pm.post(url, json={"filePath": s3_bucket["bam"].s3_path}, headers=headers, timeout=60)
    assert same.status_code == 200, same.text[:300]
    missing = "s3://seqr-reads/reads/not-there.bam"
    refused = pm.post(url, json={"filePath": missing}, headers=headers, timeout=60)
    assert (refused.status_code, refused.json()["error"]) == (400, f'Error accessing "{missing}"')


@pytest.mark.parametrize("shape", SHAPES)
def test_check_passes_on_older_seqr(standin_factory, shape, tmp_path) -> None:
    """The registration query is compiled, never run: the check needs no database (none can open here)."""
    env = {**standin_factory("proxy", shape=shape).env, "SEQR_STANDIN_DB": str(tmp_path / "absent" / "db")}
    result = run_check(env, standin_dir_of(env))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "System check identified no issues" in result.stdout


# IgvSample.file_path renamed in Python (the column stays): the registration query cannot be built.
RENAMED_FILE_PATH = (
    (
        "seqr/models.py",
        "    file_path = models.TextField()\n",
        '    path = models.TextField(db_column="file_path")\n',
    ),
)


def test_check_fails_on_a_model_the_registration_query_cannot_use(standin_factory, tmp_path) -> None:
    standin = copy_standin(tmp_path / "seqr_standin", RENAMED_FILE_PATH)
    result = run_check(standin_factory("proxy").env, standin)
    assert result.returncode != 0
    assert (
        "(seqr_s3.E006) seqr_s3 cannot build its IGV sample registration query on this seqr's models: "
        "FieldError: Cannot resolve keyword 'file_path'"
    ) in result.stderr, result.stderr[-2000:]


def test_an_unforeseen_error_on_the_read_path_is_a_json_500(
    standin_factory, seeded_session, standin_data, s3_bucket, tmp_path
) -> None:
    """gunicorn runs no checks: served anyway, the broken query fails inside serve_track. The answer is
    seqr's JSON error shape, never the HTML error page, and the log names seqr_s3 and the cause."""
    standin = copy_standin(tmp_path / "seqr_standin", RENAMED_FILE_PATH)
    env = {**standin_factory("proxy").env, "SEQR_STANDIN_DB": str(tmp_path / "db.sqlite3")}
    prepare_database(env, standin_data.seed, tmp_path)  # with the unchanged stand-in: same columns
    broken_env = {**env, "PYTHONPATH": f"{standin}:{TESTS_DIR}"}
    assert standin_dir_of(env) == STANDIN_DIR and standin_dir_of(broken_env) == standin
    server = start_standin(tmp_path / "run", broken_env)
    try:
        session = seeded_session(server, "collaborator")
        answer = session.get(track_url(server.base_url, PROJECT_1, s3_bucket["bam"].s3_path), timeout=60)
        assert answer.status_code == 500, answer.text[:300]
        assert answer.headers["Content-Type"] == "application/json"
        assert json.loads(answer.text) == {
            "error": "seqr_s3 could not serve this track: an internal error (the server log names the cause)"
        }
        log = server.log_text()
        assert "seqr_s3: unexpected error serving " + s3_bucket["bam"].s3_path in log
        assert "FieldError: Cannot resolve keyword 'file_path'" in log
    finally:
        server.stop()


class _GarbageStore(BaseHTTPRequestHandler):
    """Answers every request 200 with a text body and no Content-Length: not what any S3 store says."""

    protocol_version = "HTTP/1.0"

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._answer(b"")

    def do_GET(self) -> None:
        self._answer(b"this is not S3\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def garbage_store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GarbageStore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_store_answering_garbage_gives_a_json_500_and_a_false_exists(
    standin_factory, seeded_session, s3_bucket, garbage_store
) -> None:
    server = standin_factory("proxy", ENDPOINT_URL=garbage_store)
    session = seeded_session(server, "collaborator")
    bam = s3_bucket["bam"].s3_path
    answer = session.get(track_url(server.base_url, PROJECT_1, bam), timeout=60)
    assert answer.status_code == 500, answer.text[:300]
    assert answer.headers["Content-Type"] == "application/json"
    assert "seqr_s3 could not serve this track" in answer.json()["error"]
    log = server.log_text()
    assert f"seqr_s3: unexpected error serving {bam} for project {PROJECT_1}: KeyError" in log
    # does_file_exist keeps its contract (a bool) and says why in the log: registering the path is refused.
    pm = seeded_session(server, "pm")
    registered = pm.post(
        f"{server.base_url}/api/individual/I_bam/update_igv_sample",
        json={"filePath": bam},
        headers={"X-CSRFToken": pm.cookies.get("csrf_token"), "Referer": server.base_url + "/"},
        timeout=60,
    )
    assert registered.status_code == 400
    assert registered.json()["error"] == f'Error accessing "{bam}"'
    assert f"seqr_s3: unexpected error telling whether {bam} exists: KeyError" in server.log_text()
