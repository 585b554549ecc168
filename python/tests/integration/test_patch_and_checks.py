"""The patch seen from seqr's side, non-s3 behaviour unchanged, the system checks and the operator command.

The patch's effect on seqr's modules is looked at in the stand-in's Django inside the test process
(seqr_in_process). What needs a process of its own runs one: the stand-in with and without seqr_s3 over HTTP
through gunicorn, ``manage.py check`` at startup (of a copy with a changed shape standing for a seqr upgrade
seqr_s3 was not written for, or without boto3), and the operator command with its exit status.
"""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
from pathlib import Path

import pysam
import pytest
import tomllib
from fixtures.standin import STANDIN_DIR, manage, write_accel_secret
from fixtures.standin_shapes import copy_standin
from s3_track_support import run_check, track_url

PROJECT_1 = "R0001_project_1"
INTEGRATION_DIR = Path(__file__).resolve().parent
SAMPLES = ["NA12878", "NA12891", "NA12892"]


@pytest.fixture(scope="module")
def vcf_objects(s3_bucket, tmp_path_factory) -> dict[str, str]:
    """A bgzipped VCF larger than seqr's 64 KiB header read (which so ends inside a BGZF block) and a plain
    one, uploaded next to the reads; returns their s3 paths and the local plain copy."""
    folder = tmp_path_factory.mktemp("vcf")
    plain = folder / "calls.vcf"
    rng = random.Random(7)
    with plain.open("w") as out:
        out.write("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=6000>\n")
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES) + "\n")
        for position in range(1, 30001):
            genotypes = "\t".join(
                rng.choice(["0/0", "0/1", "1/1"]) + f":{rng.randint(1, 99)}" for _ in SAMPLES
            )
            out.write(f"chr1\t{position}\t.\tA\tC\t{rng.randint(1, 999)}\tPASS\tDP={rng.randint(1, 500)}\t")
            out.write(f"GT:GQ\t{genotypes}\n")
    compressed = folder / "calls.vcf.gz"
    pysam.tabix_compress(str(plain), str(compressed), force=True)
    assert compressed.stat().st_size > 65536
    client = s3_bucket.server.client()
    client.upload_file(str(plain), s3_bucket.name, "reads/calls.vcf")
    client.upload_file(str(compressed), s3_bucket.name, "reads/calls.vcf.gz")
    return {
        "vcf": f"s3://{s3_bucket.name}/reads/calls.vcf",
        "vcf_gz": f"s3://{s3_bucket.name}/reads/calls.vcf.gz",
        "local_vcf": str(plain),
        "plain_text": plain.read_text(),
    }


def test_patched_functions_in_every_seqr_module(seqr_in_process, s3_bucket, vcf_objects, reads) -> None:
    """In this process's stand-in Django: django.setup() ran seqr_s3's ready(), as a worker's start does."""
    from seqr.utils import file_utils, vcf_utils
    from seqr.views.apis import igv_api
    from seqr_s3.patch import ORIGINAL_ATTRIBUTE, apply_patch

    seqr_in_process.use("proxy")
    bam = s3_bucket["bam"]
    data = bam.read_local()
    # Modules that bound the names with `from ... import` before the patch now hold the wrappers too.
    for module in (file_utils, vcf_utils, igv_api):
        for name in ("does_file_exist", "file_iter"):
            assert hasattr(getattr(module, name), ORIGINAL_ATTRIBUTE), f"{module.__name__}.{name}"
    assert hasattr(igv_api._stream_file, ORIGINAL_ATTRIBUTE)
    assert vcf_utils.file_iter is file_utils.file_iter is igv_api.file_iter
    # HEAD, not a prefix listing: "reads/sample" is a prefix of existing keys but no object.
    exists = [bam.s3_path, bam.s3_path + ".nope", "s3://seqr-reads/reads/sample", str(reads.bam)]
    assert {path: vcf_utils.does_file_exist(path) for path in exists} == {
        bam.s3_path: True,
        bam.s3_path + ".nope": False,
        "s3://seqr-reads/reads/sample": False,
        str(reads.bam): True,
    }
    # byte_range is inclusive.
    assert (
        b"".join(file_utils.file_iter(bam.s3_path, byte_range=(1000, 70000), raw_content=True))
        == data[1000:70001]
    )
    assert b"".join(igv_api.file_iter(bam.s3_path, raw_content=True)) == data
    # The samples are read from a 64 KiB range of the .vcf.gz, gunzipped.
    assert sorted(vcf_utils.validate_vcf_and_get_samples(vcf_objects["vcf_gz"], None)) == sorted(SAMPLES)
    assert "".join(vcf_utils.file_iter(vcf_objects["vcf_gz"])) == vcf_objects["plain_text"]
    plain_text_lines = list(vcf_utils.file_iter(vcf_objects["vcf"]))[:3]
    assert plain_text_lines == list(vcf_utils.file_iter(vcf_objects["local_vcf"]))[:3]
    assert plain_text_lines[0] == "##fileformat=VCFv4.2\n"
    missing = file_utils.file_iter("s3://seqr-reads/reads/missing.bam", raw_content=True)
    with pytest.raises(
        FileNotFoundError, match="^" + re.escape("s3://seqr-reads/reads/missing.bam does not exist")
    ):
        next(missing)
    # Applying the patch again changes nothing: the wrappers stay, never wrapped twice.
    before = {name: getattr(file_utils, name) for name in ("does_file_exist", "file_iter")}
    apply_patch()
    apply_patch()
    for name, wrapper in before.items():
        assert getattr(file_utils, name) is wrapper is getattr(vcf_utils, name)
        assert not hasattr(getattr(wrapper, ORIGINAL_ATTRIBUTE), ORIGINAL_ATTRIBUTE)


def test_local_tracks_answer_exactly_as_upstream(standin_factory, seeded_session, reads) -> None:
    """seqr's own _stream_file still serves non-s3 paths, quirks included (no '/size' in Content-Range)."""
    answers = []
    for mode in (None, "proxy"):
        server = standin_factory(mode)
        session = seeded_session(server, "collaborator")
        url = track_url(server.base_url, PROJECT_1, str(reads.bam))
        ranged = session.get(url, headers={"Range": "bytes=0-99"}, timeout=60)
        whole = session.get(url, timeout=60)
        answers.append(
            (
                ranged.status_code,
                ranged.headers.get("Content-Range"),
                ranged.content,
                whole.status_code,
                whole.content,
            )
        )
    assert answers[0] == answers[1]
    assert answers[1][:2] == (206, "bytes 0-99")
    assert answers[1][2] == reads.bam.read_bytes()[:100]


def test_registering_an_s3_sample_checks_it_exists(seqr_in_process, s3_bucket) -> None:
    """update_individual_igv_sample validates s3 paths through the patched does_file_exist."""
    seqr_in_process.use("proxy")
    pm = seqr_in_process.client("pm")
    url = "/api/individual/I_bam/update_igv_sample"
    same = pm.post(url, {"filePath": s3_bucket["bam"].s3_path}, content_type="application/json")
    assert same.status_code == 200, same.content[:300]
    missing_path = "s3://seqr-reads/reads/not-there.bam"
    refused = pm.post(url, {"filePath": missing_path}, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["error"] == f'Error accessing "{missing_path}"'


def _changed_standin(tmp_path: Path, edit_file: str, old: str, new: str) -> Path:
    return copy_standin(tmp_path / "seqr_standin", ((edit_file, old, new),))


@pytest.mark.parametrize(
    ("edit_file", "old", "new", "expected"),
    [
        (
            "seqr/views/apis/igv_api.py",
            "def _stream_file(request: HttpRequest, path: str)",
            "def _stream_local_file(request: HttpRequest, path: str)",
            "(seqr_s3.E001) seqr_s3 patch target seqr.views.apis.igv_api._stream_file is missing",
        ),
        (
            "seqr/utils/file_utils.py",
            "    byte_range: tuple | None = None,\n    raw_content: bool = False,",
            "    byte_range: tuple | None = None,\n    raw: bool = False,",
            "(seqr_s3.E002) seqr_s3 cannot wrap seqr.utils.file_utils.file_iter"
            "(file_path, byte_range=None, raw=False, user=None, **kwargs): "
            "it has no parameter 'raw_content'. "
            "seqr_s3 needs (file_path, byte_range, raw_content[, user], then only optional parameters)",
        ),
        (
            "seqr/utils/file_utils.py",
            "    byte_range: tuple | None = None,\n    raw_content: bool = False,",
            "    raw_content: bool = False,\n    byte_range: tuple | None = None,",
            "(seqr_s3.E002) seqr_s3 cannot wrap seqr.utils.file_utils.file_iter"
            "(file_path, raw_content=False, byte_range=None, user=None, **kwargs): "
            "'byte_range' is parameter 3, expected 2 (reordered)",
        ),
        (
            "seqr/utils/file_utils.py",
            "def does_file_exist(file_path: str, user: Any = None) -> bool:",
            "def does_file_exist(file_path: str, user: Any = None, *, project: Any) -> bool:",
            "(seqr_s3.E002) seqr_s3 cannot wrap seqr.utils.file_utils.does_file_exist"
            "(file_path, user=None, *, project): "
            "it requires a parameter 'project' that seqr_s3 does not know",
        ),
        (
            "seqr/views/apis/igv_api.py",
            "def fetch_igv_track(request: HttpRequest, project_guid: str, igv_track_path: str)",
            "def fetch_igv_track(request: HttpRequest, guid: str, igv_track_path: str)",
            "(seqr_s3.E002) seqr_s3 cannot wrap seqr.views.apis.igv_api.fetch_igv_track"
            "(request, guid, igv_track_path): it has no parameter 'project_guid'",
        ),
        (
            # The .bam.bai test moved out of fetch_igv_track: its existence test could no longer be deferred
            # until after seqr_s3's access check, so the patch refuses instead of asking S3 too early.
            "seqr/views/apis/igv_api.py",
            "and not does_file_exist(igv_track_path, user=request.user):",
            "and not _index_exists(igv_track_path, request.user):",
            "(seqr_s3.E002) seqr_s3 expects seqr.views.apis.igv_api.fetch_igv_track to call does_file_exist "
            "for its .bam.bai fallback",
        ),
    ],
    ids=[
        "stream_file_renamed",
        "file_iter_parameter_renamed",
        "file_iter_parameters_reordered",
        "does_file_exist_new_required_parameter",
        "fetch_igv_track_project_renamed",
        "index_fallback_moved",
    ],
)
def test_check_fails_naming_a_changed_seqr(
    standin_factory, tmp_path: Path, edit_file: str, old: str, new: str, expected: str
) -> None:
    standin = _changed_standin(tmp_path, edit_file, old, new)
    result = run_check(standin_factory("proxy").env, standin)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr[-2000:]
    # Nothing was patched, and startup said so.
    assert "not patching seqr, s3:// paths will not be served" in result.stderr


def test_check_fails_without_boto3(standin_factory) -> None:
    # sys.modules[name] = None is how Python itself marks a module as not importable.
    result = run_check(
        standin_factory("proxy").env, STANDIN_DIR, prelude="import sys; sys.modules['boto3'] = None"
    )
    assert result.returncode != 0
    assert "(seqr_s3.E003) seqr_s3 needs boto3, which is not installed" in result.stderr


def _check_in_process() -> str:
    """``check`` in this process's stand-in Django, as ``manage.py check`` runs it; what it printed."""
    from django.core.management import call_command

    said = io.StringIO()
    call_command("check", stdout=said, stderr=said)
    return said.getvalue()


def test_check_passes_on_the_stand_in(seqr_in_process) -> None:
    seqr_in_process.use("proxy")
    assert "System check identified no issues" in _check_in_process()


def test_check_fails_on_an_invalid_setting(seqr_in_process) -> None:
    from django.core.management.base import SystemCheckError

    seqr_in_process.use("stream")
    with pytest.raises(SystemCheckError) as failed:
        _check_in_process()
    assert "(seqr_s3.E004) seqr_s3 configuration is invalid: SEQR_S3['MODE'] must be one of" in str(
        failed.value
    )


def test_check_warns_about_accel_without_nginxs_secret(seqr_in_process, tmp_path: Path) -> None:
    """accel without ACCEL_SECRET_FILE cannot tell nginx from a direct caller: every read is streamed, and
    `manage.py check` says so (a warning: seqr still works, only slower)."""
    seqr_in_process.use("accel")
    assert "(seqr_s3.W001) seqr_s3 is in accel mode without ACCEL_SECRET_FILE" in _check_in_process()
    seqr_in_process.use("accel", ACCEL_SECRET_FILE=str(write_accel_secret(tmp_path / "accel_secret")))
    with_secret = _check_in_process()
    assert "W001" not in with_secret
    assert "System check identified no issues" in with_secret


def test_the_operator_command(standin_factory, s3_bucket) -> None:
    env = standin_factory("proxy").env
    ok = manage(env, "seqr_s3_check", s3_bucket["bam"].s3_path, s3_bucket["unicode_bam"].s3_path)
    # The installed package says which version it is (python/pyproject.toml's, the project's one version).
    version = tomllib.loads((INTEGRATION_DIR.parents[1] / "pyproject.toml").read_text())["project"]["version"]
    assert ok.stdout.startswith(f"seqr_s3 {version} mode=proxy "), ok.stdout
    assert "credentials=shared-credentials-file" in ok.stdout
    assert f"OK {s3_bucket['bam'].s3_path}: {len(s3_bucket['bam'].read_local())} bytes" in ok.stdout
    assert f"OK {s3_bucket['unicode_bam'].s3_path}" in ok.stdout

    failing = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "seqr_s3_check",
            s3_bucket["private_bam"].s3_path,
            "s3://seqr-reads/reads/missing.bam",
            "s3://NOPE/x.bam",
        ],
        cwd=STANDIN_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failing.returncode != 0
    assert "not under any SEQR_S3 ALLOWED_PREFIXES entry (allowed: s3://seqr-reads/reads/)" in failing.stderr
    assert "FAIL s3://seqr-reads/reads/missing.bam: HEAD failed with HTTP 404" in failing.stderr
    assert "bucket name 'NOPE'" in failing.stderr
    assert "3 of 3 path(s) cannot be read" in failing.stderr
