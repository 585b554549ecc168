"""seqr's own "Add BAM/CRAM paths" flow with s3:// paths, through seqr's real view and nginx.

``update_individual_igv_sample`` (POST /api/individual/<guid>/update_igv_sample, for a PM or data manager)
checks the file's suffix, then calls seqr's ``does_file_exist`` on the file and on ``indexFilePath``, which
seqr_s3 answers for s3:// paths; on failure seqr answers 400 ``Error accessing "<path>"`` and saves nothing.
Here a data manager adds paths the way the UI's form posts them: copies of the BAM and CRAM fixtures made for
this module (so no seeded row registers them), an object never uploaded, and an object outside the allow-list.
A track that was refused before its row existed must read afterwards. For the path outside the allow-list,
radosgw's own request counter (its ``req`` perf counter, read over its admin socket) must not move, and
seqr's log must say why. The rows, individuals and objects made here are removed when the module ends.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
import testinfra

DEFAULT_TESTS = Path(__file__).resolve().parents[2] / "default" / "tests"


def _default_scenario_helpers() -> ModuleType:
    """molecule/default/tests/conftest.py: the module verify already loaded for the default tests (so the role
    state ensure_role keeps is shared), or loaded here when this file is collected on its own."""
    loaded = sys.modules.get("conftest")
    if loaded is not None and Path(loaded.__file__ or "").resolve() == DEFAULT_TESTS / "conftest.py":
        return loaded
    spec = importlib.util.spec_from_file_location("molecule_default_conftest", DEFAULT_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


helpers = _default_scenario_helpers()
from scenario_data import MANAGER, s3_client  # noqa: E402  (on sys.path once the default conftest is loaded)

# How the seqr unit runs manage.py: its environment file, as the seqr user, HOME for pyliftover's files.
MANAGE = (
    "cd /seqr && set -a && . /etc/default/seqr && set +a && "
    "runuser -u seqr -- env HOME=/home/seqr /opt/venv/bin/python manage.py"
)
FAMILY = "F0001"  # the seeded family of the seeded project (scenario_data.py)
# Individuals made for this module, each without any IgvSample row to start with.
BAM_INDIVIDUAL, CRAM_INDIVIDUAL, REFUSED_INDIVIDUAL = "igv_add_bam", "igv_add_cram", "igv_add_refused"
INDIVIDUALS = (BAM_INDIVIDUAL, CRAM_INDIVIDUAL, REFUSED_INDIVIDUAL)
ADDED_PREFIX = "reads/added-through-seqr/"
# Copies made for this module (manifest name of the fixture copied, key of the copy) under the allow-list.
COPIES = {
    "bam": ADDED_PREFIX + "sample.bam",
    "bam_bai": ADDED_PREFIX + "sample.bam.bai",
    "cram": ADDED_PREFIX + "sample.cram",
    "crai": ADDED_PREFIX + "sample.cram.crai",
}
NEVER_UPLOADED = ADDED_PREFIX + "never-uploaded.bam"
ROWS_MARK = "SEQR_S3_ROWS="
INDIVIDUALS_MARK = "SEQR_S3_INDIVIDUALS="
REMOVED_MARK = "SEQR_S3_REMOVED="
CEPH_RUN_DIR = "/var/run/ceph"  # Ceph's run_dir for daemons


class Added:
    """What the module made (guids of its individuals, the copies' URIs), the scenario and both hosts."""

    def __init__(self, scenario: Any, seqr_host: testinfra.host.Host, guids: dict[str, str]) -> None:
        self.scenario = scenario
        self.seqr_host = seqr_host
        self.s3_host = testinfra.get_host(f"podman://{helpers.S3_CONTAINER}")
        self.guids = guids
        bucket = scenario.manifest["bucket"]
        self.uri = {name: f"s3://{bucket}/{key}" for name, key in COPIES.items()}
        self.never_uploaded = f"s3://{bucket}/{NEVER_UPLOADED}"

    def rows(self, individual: str) -> dict[str, Any]:
        """The individual's IgvSample rows as seqr's database has them, and whether the model has an index."""
        code = (
            "import json; from seqr.models import IgvSample; "
            "fields = {f.name for f in IgvSample._meta.get_fields()}; "
            "rows = [[s.file_path, getattr(s, 'index_file_path', None)] for s in "
            f"IgvSample.objects.filter(individual__guid='{self.guids[individual]}').order_by('id')]; "
            f"print('{ROWS_MARK}' + json.dumps(dict(index_field='index_file_path' in fields, rows=rows)))"
        )
        return _marked_json(_django_shell(self.seqr_host, code), ROWS_MARK)


def _django_shell(seqr_host: testinfra.host.Host, code: str) -> Any:
    """Run ``code`` in seqr's `manage.py shell` with a globals dict of its own: Django before 3.2 (seqr of
    2021) exec's the command in a function's locals, where a comprehension cannot see names it imported."""
    encoded = base64.b64encode(code.encode()).decode()
    wrapped = f"import base64; exec(base64.b64decode('{encoded}').decode(), {{}})"
    return seqr_host.run(f'{MANAGE} shell -c "{wrapped}"')


def _marked_json(result: Any, mark: str) -> Any:
    """The JSON a manage.py shell snippet printed after ``mark`` (seqr may print other lines around it)."""
    assert result.rc == 0, result.stderr[-3000:]
    line = next((line for line in result.stdout.splitlines() if line.startswith(mark)), None)
    assert line is not None, f"no {mark} line in: {result.stdout[-2000:]}"
    return json.loads(line[len(mark) :])


def _remove_individuals(seqr_host: testinfra.host.Host) -> None:
    """Delete this module's IgvSample rows (seqr PROTECTs them from their individual's deletion), then the
    individuals."""
    code = (
        "from seqr.models import IgvSample, Individual; "
        f"ids = {list(INDIVIDUALS)!r}; "
        f"IgvSample.objects.filter(individual__family__guid='{FAMILY}', individual__individual_id__in=ids)"
        ".delete(); "
        f"Individual.objects.filter(family__guid='{FAMILY}', individual_id__in=ids).delete(); "
        f"print('{REMOVED_MARK}' + str(len(ids)))"
    )
    _marked_json(_django_shell(seqr_host, code), REMOVED_MARK)


def _make_individuals(seqr_host: testinfra.host.Host) -> dict[str, str]:
    """Fresh individuals in the seeded family, made through seqr's model; returns {individual_id: guid}."""
    code = (
        "import json; from seqr.models import Family, Individual; "
        f"family = Family.objects.get(guid='{FAMILY}'); "
        "guids = {i: Individual.objects.create(family=family, individual_id=i).guid "
        f"for i in {list(INDIVIDUALS)!r}}}; "
        f"print('{INDIVIDUALS_MARK}' + json.dumps(guids))"
    )
    return _marked_json(_django_shell(seqr_host, code), INDIVIDUALS_MARK)


@pytest.fixture(scope="module")
def added() -> Iterator[Added]:
    """Copies of the BAM and CRAM fixtures (server-side, in Ceph) and three new individuals; both removed."""
    helpers.ensure_role(seqr_s3_mode="accel")  # converge's state
    scenario = helpers.load_scenario()
    seqr_host = testinfra.get_host(f"podman://{helpers.SEQR_CONTAINER}")
    client = s3_client(scenario.state_dir, scenario.s3_endpoint)
    bucket = scenario.manifest["bucket"]
    _remove_individuals(seqr_host)  # what an interrupted earlier run may have left
    try:
        for name, key in COPIES.items():
            source = scenario.objects[name]
            client.copy_object(
                Bucket=bucket, Key=key, CopySource={"Bucket": source["bucket"], "Key": source["key"]}
            )
        yield Added(scenario, seqr_host, _make_individuals(seqr_host))
    finally:
        _remove_individuals(seqr_host)
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in COPIES.values()]})


@pytest.fixture(scope="module")
def manager(added: Added) -> requests.Session:
    """The seeded data manager, logged in through nginx as the UI does."""
    return helpers.login(added.scenario, added.scenario.manifest["manager_email"])


@pytest.fixture(scope="module")
def analyst(added: Added) -> requests.Session:
    """The project's collaborator, who views its IGV tracks."""
    return helpers.login(added.scenario, added.scenario.manifest["user_email"])


def add_path(
    session: requests.Session, added: Added, individual: str, body: dict[str, Any]
) -> requests.Response:
    """What the UI's "Add BAM/CRAM paths" form posts, with seqr's CSRF header."""
    return session.post(
        f"{added.scenario.seqr_url}/api/individual/{added.guids[individual]}/update_igv_sample",
        json=body,
        headers={"X-CSRFToken": session.cookies.get("csrf_token", "")},
        timeout=helpers.REQUEST_TIMEOUT,
    )


def read_track(session: requests.Session, added: Added, uri: str) -> requests.Response:
    return session.get(
        added.scenario.track_url(uri), headers={"Range": "bytes=0-99"}, timeout=helpers.REQUEST_TIMEOUT
    )


def assert_reads(session: requests.Session, added: Added, name: str) -> None:
    """The copy of fixture ``name`` reads through the project's IGV track URL, byte for byte."""
    response = read_track(session, added, added.uri[name])
    assert response.status_code == 206, f"{added.uri[name]}: {response.status_code} {response.text[:200]}"
    assert response.content == added.scenario.expected_bytes(name, 0, 99)


def assert_refused_by_seqr(response: requests.Response, path: str) -> None:
    """seqr's own answer when does_file_exist says no."""
    assert response.status_code == 400, f"{response.status_code}: {response.text[:300]}"
    assert response.json() == {"error": f'Error accessing "{path}"'}


def rgw_requests(s3_host: testinfra.host.Host) -> int:
    """Requests radosgw has received since it started: its ``req`` perf counter (counted as each request comes
    in), read over the admin socket Ceph gives a daemon by default ($run_dir/$cluster-$name.asok)."""
    sockets = [
        name
        for name in s3_host.check_output(f"ls {CEPH_RUN_DIR}").split()
        if re.fullmatch(r"ceph-client\.rgw\..+\.asok", name)
    ]
    assert len(sockets) == 1, f"expected one radosgw admin socket in {CEPH_RUN_DIR}, found {sockets}"
    counters = json.loads(s3_host.check_output(f"ceph --admin-daemon {CEPH_RUN_DIR}/{sockets[0]} perf dump"))
    # "rgw" on current Ceph; older releases name the section after the daemon (client.rgw.<host>).
    section = counters.get("rgw") or next(v for k, v in counters.items() if k.startswith("client.rgw"))
    return int(section["req"])


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def seqr_log_messages(seqr_host: testinfra.host.Host, since: str) -> list[str]:
    """What seqr's unit logged since ``since`` (host clock): the message of each line seqr's JSON formatter
    wrote, other lines as they are."""
    lines = seqr_host.check_output(f"journalctl -u seqr --no-pager -o cat --since '{since}'").splitlines()
    messages = []
    for line in lines:
        entry = _json_object(line)
        messages.append(entry["message"] if entry and isinstance(entry.get("message"), str) else line)
    return messages


def test_a_collaborator_may_not_add_paths(added: Added, analyst: requests.Session) -> None:
    """seqr's own permission: only a PM or data manager adds paths."""
    response = add_path(analyst, added, BAM_INDIVIDUAL, {"filePath": added.uri["bam"]})
    assert response.status_code == 403
    assert added.rows(BAM_INDIVIDUAL)["rows"] == []


def test_an_existing_bam_with_its_index_is_added_and_then_reads(
    added: Added, manager: requests.Session, analyst: requests.Session
) -> None:
    bam, bai = added.uri["bam"], added.uri["bam_bai"]
    before = read_track(analyst, added, bam)
    assert before.status_code == 403, "a path no IgvSample registers must be refused before it is added"
    response = add_path(manager, added, BAM_INDIVIDUAL, {"filePath": bam, "indexFilePath": bai})
    assert response.status_code == 200, response.text[:500]
    answer = response.json()
    (sample,) = answer["igvSamplesByGuid"].values()
    assert (sample["filePath"], sample["individualGuid"]) == (bam, added.guids[BAM_INDIVIDUAL])
    assert sample["sampleType"] == "alignment"
    assert sample["sampleGuid"] in answer["individualsByGuid"][added.guids[BAM_INDIVIDUAL]]["igvSampleGuids"]
    stored = added.rows(BAM_INDIVIDUAL)
    # seqr before 2024-08 has no IgvSample.index_file_path and ignores indexFilePath.
    assert stored["rows"] == [[bam, bai if stored["index_field"] else None]]
    assert_reads(analyst, added, "bam")
    assert_reads(analyst, added, "bam_bai")


def test_a_missing_object_under_the_allow_list_is_refused_by_seqr(
    added: Added, manager: requests.Session
) -> None:
    """seqr_s3 asks S3 (a HEAD radosgw counts) and says no: seqr's own error, no row."""
    requests_before = rgw_requests(added.s3_host)
    response = add_path(manager, added, REFUSED_INDIVIDUAL, {"filePath": added.never_uploaded})
    assert_refused_by_seqr(response, added.never_uploaded)
    assert rgw_requests(added.s3_host) > requests_before, (
        "seqr_s3 did not ask S3, so an unmoved counter (next test) would prove nothing"
    )
    assert added.rows(REFUSED_INDIVIDUAL)["rows"] == []


def test_a_path_outside_the_allow_list_is_refused_without_any_s3_request(
    added: Added, manager: requests.Session
) -> None:
    """An object that exists and that the keys can read, but outside the allow-list: refused like a missing
    one, radosgw receives nothing, and seqr's log says why (README, Troubleshooting)."""
    outside = added.scenario.objects["outside"]["uri"]
    since = added.seqr_host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    requests_before = rgw_requests(added.s3_host)
    response = add_path(manager, added, REFUSED_INDIVIDUAL, {"filePath": outside})
    assert_refused_by_seqr(response, outside)
    assert rgw_requests(added.s3_host) == requests_before, (
        "seqr_s3 sent S3 a request for a path outside the allow-list"
    )
    assert added.rows(REFUSED_INDIVIDUAL)["rows"] == []

    def logged() -> list[str]:
        """seqr_s3's warning and audit line about the path (journald stores them a moment after seqr)."""
        messages = [m for m in seqr_log_messages(added.seqr_host, since) if outside in m]
        warned = any("counts as missing" in m and "(no S3 request made)" in m for m in messages)
        audited = any(
            (line.get("source"), line.get("decision"), line.get("rule"), line.get("user"))
            == ("does_file_exist", "refused", "not_under_allowed_prefixes", MANAGER)
            for line in filter(None, map(_json_object, messages))
        )
        return messages if warned and audited else []

    helpers.wait_until(logged, "seqr's log to say the path counts as missing, with no S3 request made")


def test_a_cram_with_its_crai_is_added_and_then_reads(
    added: Added, manager: requests.Session, analyst: requests.Session
) -> None:
    cram, crai = added.uri["cram"], added.uri["crai"]
    assert read_track(analyst, added, cram).status_code == 403
    stored = added.rows(CRAM_INDIVIDUAL)
    if stored["index_field"]:
        # seqr that keeps indexFilePath checks it too: a .crai never uploaded is refused, nothing saved.
        missing_crai = added.never_uploaded.removesuffix(".bam") + ".cram.crai"
        refused = add_path(manager, added, CRAM_INDIVIDUAL, {"filePath": cram, "indexFilePath": missing_crai})
        assert_refused_by_seqr(refused, missing_crai)
        assert added.rows(CRAM_INDIVIDUAL)["rows"] == []
    response = add_path(manager, added, CRAM_INDIVIDUAL, {"filePath": cram, "indexFilePath": crai})
    assert response.status_code == 200, response.text[:500]
    (sample,) = response.json()["igvSamplesByGuid"].values()
    assert (sample["filePath"], sample["individualGuid"]) == (cram, added.guids[CRAM_INDIVIDUAL])
    if stored["index_field"]:
        assert sample["indexFilePath"] == crai
    assert added.rows(CRAM_INDIVIDUAL)["rows"] == [[cram, crai if stored["index_field"] else None]]
    assert_reads(analyst, added, "cram")
    assert_reads(analyst, added, "crai")
