"""``manage.py seqr_s3_audit`` on the converged seqr host, against Ceph: the seeded project's good tracks
pass, each problem prepare planted (an object never uploaded, a BAM without index, a path outside the
allow-list) is named and fails the audit, and with radosgw stopped every row says the store cannot be reached.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import testinfra
from conftest import MANAGE, S3_CONTAINER, Scenario, ensure_role, wait_until

RGW_UNIT = f"ceph-radosgw@rgw.{S3_CONTAINER}"  # prepare names the gateway after the host
# scenario_data.py's IgvSample rows of the seeded project that igv.js can load, and the index each gets.
GOOD_SAMPLES = {"S0001": "bam_bai", "S0002": "only_bai", "S0003": "crai", "S0004": "unicode_bai"}


@pytest.fixture(scope="module", autouse=True)
def _converged_state() -> None:
    """The audit reads the configuration converge wrote (accel mode)."""
    ensure_role(seqr_s3_mode="accel")


def audit(seqr_host: testinfra.host.Host, *args: str) -> Any:
    return seqr_host.run(f"{MANAGE} seqr_s3_audit {' '.join(args)}")


def report_of(result: Any) -> dict[str, Any]:
    """The --json document, which starts with a line "{" (a seqr that logs one-line JSON to stdout at startup
    may print lines before it)."""
    text = result.stdout
    start = 0 if text.startswith("{\n") else text.index("\n{\n") + 1
    document, _ = json.JSONDecoder().raw_decode(text[start:])
    return document


def assert_nothing_secret(result: Any, scenario: Scenario) -> None:
    """No key, presigned URL, signature, object byte or traceback in what the command printed."""
    output = result.stdout_bytes + result.stderr_bytes
    access_key = (scenario.state_dir / "s3_access_key").read_text().strip()
    for secret in (access_key, scenario.secret_key()):
        assert secret.encode() not in output
    for marker in (b"X-Amz-", b"Signature", b"Credential=", b"Traceback"):
        assert marker not in output, marker
    assert b"\x1f\x8b" not in output and b"CRAM" not in output  # BAM/BGZF and CRAM magic


def test_audit_names_each_problem_of_the_project(seqr_host: testinfra.host.Host, scenario: Scenario) -> None:
    result = audit(seqr_host, "--project", scenario.manifest["project"], "--json")
    assert result.rc == 1, result.stdout + result.stderr
    report = report_of(result)
    rows = {row["sample"]: row for row in report["samples"]}
    assert set(rows) == {*GOOD_SAMPLES, "S0005", "S0006", "S0007"}
    for sample, index_name in GOOD_SAMPLES.items():
        row = rows[sample]
        assert [row["allowed"], row["object"], row["index"], row["read"]] == [True, "ok", "ok", "ok"], row
        assert row["index_path"] == scenario.objects[index_name]["uri"]
    assert rows["S0001"]["size"] == scenario.objects["bam"]["size"]

    no_index = rows["S0005"]
    assert [no_index["object"], no_index["read"], no_index["index"]] == ["ok", "ok", "missing"]
    outside = rows["S0006"]
    assert [outside["allowed"], outside["object"], outside["s3_requests"]] == [False, "-", 0]
    missing = rows["S0007"]
    assert missing["object"] == "missing"
    assert f"file: {scenario.manifest['missing_uri']} does not exist" in missing["problems"]
    assert report["samples_with_problems"] == 3
    assert_nothing_secret(result, scenario)

    table = audit(seqr_host, "--project", scenario.manifest["project"])
    assert table.rc == 1
    lines = table.stdout.splitlines()
    header = next(line for line in lines if line.startswith("RESULT"))
    assert header.split() == ["RESULT", "PROJECT", "SAMPLE", "ALLOWED", "OBJECT", "INDEX", "READ", "PATH"]
    failing = sorted(line.split()[2] for line in lines if line.startswith("PROBLEM"))
    assert failing == ["S0005", "S0006", "S0007"]
    assert "3 of 7 sample(s) have problems" in table.stderr
    assert_nothing_secret(table, scenario)


def test_audit_passes_a_project_without_problems(seqr_host: testinfra.host.Host, scenario: Scenario) -> None:
    result = audit(seqr_host, "--project", scenario.manifest["other_project"], "--json")
    assert result.rc == 0, result.stdout + result.stderr
    (row,) = report_of(result)["samples"]
    assert row["ok"] is True and row["path"] == scenario.objects["other_project_bam"]["uri"]


def test_audit_with_the_store_down(
    seqr_host: testinfra.host.Host, s3_host: testinfra.host.Host, scenario: Scenario
) -> None:
    other_project = scenario.manifest["other_project"]
    s3_host.run_expect([0], f"systemctl stop {RGW_UNIT}")
    try:
        result = audit(seqr_host, "--project", scenario.manifest["project"], "--json")
        table = audit(seqr_host, "--project", other_project)
    finally:
        s3_host.run_expect([0], f"systemctl start {RGW_UNIT}")
    assert result.rc == 1, result.stdout + result.stderr
    asked = [row for row in report_of(result)["samples"] if row["allowed"]]
    assert asked and all(row["object"] == "unreachable" for row in asked)
    assert "cannot reach the S3 endpoint" in asked[0]["problems"][0]
    assert sum(row["s3_requests"] for row in asked) == 1, "nothing more is asked once the store is down"
    assert_nothing_secret(result, scenario)
    assert table.rc == 1
    assert "unreachable" in table.stdout and "1 of 1 sample(s) have problems" in table.stderr
    assert_nothing_secret(table, scenario)
    wait_until(lambda: audit(seqr_host, "--project", other_project).rc == 0, "the audit to pass again")
