"""Session fixtures shared by every test: real reads, a real S3 server, the seqr stand-in, nginx.

Everything is started once per session, on loopback, and always torn down (even when a test fails).
Helpers live in tests/fixtures/ so Molecule's prepare step and bench/ use the same code.

- ``reads``: BAM/BAI, BAM with only .bai, CRAM/CRAI, FASTA/FAI made with pysam (fixtures.reads).
- ``s3_server``: SeaweedFS with SigV4 identities (admin + read-only ``reader`` for seqr).
- ``s3_bucket``: a bucket holding the reads under ``reads/`` (also a key with a space and unicode, one with
  ``+`` and ``%``, a large random object), a copy registered only to project 2, and ``private/other.bam``
  outside the allow-list.
- ``standin_data``: the seeded users, projects and IgvSample rows (names, passwords, s3 paths).
- ``standin_factory(mode=None, **seqr_s3_overrides)``: a live gunicorn of the stand-in; ``mode=None`` is the
  stand-in alone (upstream behaviour), otherwise seqr_s3 is installed with SEQR_S3 for that mode.
- ``seeded_session(server, user)``: a logged-in requests.Session (user: "collaborator", "other", "pm").
- ``nginx_factory(server, **role_vars)``: nginx with the role's rendered site in front of a stand-in.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from fixtures.nginx import NginxServer, NginxUnavailable, start_nginx
from fixtures.reads import (
    HOSTILE_BODY,
    HOSTILE_KEY,
    HOSTILE_UPLOAD,
    ReadsFixture,
    make_reads,
    write_large_file,
)
from fixtures.seaweed import SeaweedS3, free_loopback_ports, start_seaweed
from fixtures.standin import (
    S3_SETTINGS_MODULE,
    StandinServer,
    accel_secret_of,
    login_session,
    prepare_database,
    standin_env,
    start_standin,
    write_accel_secret,
    write_aws_files,
)

BUCKET = "seqr-reads"
ALLOWED_PREFIX = f"s3://{BUCKET}/reads/"
PROJECT_1 = "R0001_project_1"
PROJECT_2 = "R0002_project_2"
# An odd size, so the last byte is not on a block boundary of anything.
LARGE_OBJECT_SIZE = 8 * 1024 * 1024 + 12345


@dataclass(frozen=True)
class S3Object:
    """One uploaded fixture: its key, and the local file holding the same bytes."""

    key: str
    local_path: Path

    @property
    def s3_path(self) -> str:
        return f"s3://{BUCKET}/{self.key}"

    def read_local(self) -> bytes:
        return self.local_path.read_bytes()


@dataclass
class S3Bucket:
    """The fixture bucket: ``objects`` maps a logical name (``bam``, ``bam_bai``, ...) to the upload."""

    name: str
    server: SeaweedS3
    objects: dict[str, S3Object]

    def __getitem__(self, logical_name: str) -> S3Object:
        return self.objects[logical_name]


@dataclass(frozen=True)
class StandinUser:
    username: str
    email: str
    password: str = field(repr=False)


@dataclass
class StandinData:
    """What the stand-in's DB is seeded with."""

    seed: dict
    users: dict[str, StandinUser]
    project_1: str = PROJECT_1
    project_2: str = PROJECT_2
    local_bam: Path | None = None


@pytest.fixture(scope="session")
def reads(tmp_path_factory: pytest.TempPathFactory) -> ReadsFixture:
    return make_reads(tmp_path_factory.mktemp("reads"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


def _fixture_files(reads: ReadsFixture, large_file: Path) -> dict[str, tuple[str, Path]]:
    return {
        "bam": ("reads/sample.bam", reads.bam),
        "bam_bai": ("reads/sample.bam.bai", reads.bam_bai),
        "only_bai_bam": ("reads/sample_only_bai.bam", reads.bam_only_bai),
        "only_bai": ("reads/sample_only_bai.bai", reads.only_bai),
        "cram": ("reads/sample.cram", reads.cram),
        "crai": ("reads/sample.cram.crai", reads.crai),
        "fasta": ("reads/reference.fa", reads.fasta),
        "fai": ("reads/reference.fa.fai", reads.fai),
        "unicode_bam": ("reads/with space/ünï code.bam", reads.bam),
        "unicode_bai": ("reads/with space/ünï code.bam.bai", reads.bam_bai),
        "odd_chars_bam": ("reads/odd+chars%41 (1).bam", reads.bam),
        "odd_chars_bai": ("reads/odd+chars%41 (1).bam.bai", reads.bam_bai),
        "large": ("reads/large_random.bam", large_file),
        "project2_bam": ("reads/project2/sample.bam", reads.bam),
        "project2_bai": ("reads/project2/sample.bam.bai", reads.bam_bai),
        "private_bam": ("private/other.bam", reads.bam),
        "private_bai": ("private/other.bam.bai", reads.bam_bai),
    }


@pytest.fixture(scope="session")
def s3_bucket(
    s3_server: SeaweedS3, reads: ReadsFixture, tmp_path_factory: pytest.TempPathFactory
) -> S3Bucket:
    large_file = write_large_file(tmp_path_factory.mktemp("large") / "large_random.bin", LARGE_OBJECT_SIZE)
    client = s3_server.client()
    client.create_bucket(Bucket=BUCKET)
    objects = {}
    for logical_name, (key, local_path) in _fixture_files(reads, large_file).items():
        client.upload_file(str(local_path), BUCKET, key)  # multipart for the large one, streamed from disk
        objects[logical_name] = S3Object(key=key, local_path=local_path)
    hostile_file = tmp_path_factory.mktemp("hostile") / "hostile_page.bam"
    hostile_file.write_bytes(HOSTILE_BODY)
    client.put_object(Bucket=BUCKET, Key=HOSTILE_KEY, Body=HOSTILE_BODY, **HOSTILE_UPLOAD)
    objects["hostile_page"] = S3Object(key=HOSTILE_KEY, local_path=hostile_file)
    return S3Bucket(name=BUCKET, server=s3_server, objects=objects)


def _individual_sample(guid: str, family: str, file_path: str, index_file_path: str | None = None) -> tuple:
    individual = {"guid": f"I_{guid}", "family": family, "individual_id": guid}
    sample = {
        "guid": f"S_{guid}",
        "individual": f"I_{guid}",
        "sample_type": "alignment",
        "file_path": file_path,
        "index_file_path": index_file_path,
    }
    return individual, sample


@pytest.fixture(scope="session")
def standin_data(s3_bucket: S3Bucket, reads: ReadsFixture) -> StandinData:
    users = {
        role: StandinUser(username=role, email=f"{role}@example.org", password=secrets.token_urlsafe(16))
        for role in ("collaborator", "other", "pm")
    }
    project_1_rows = [
        _individual_sample("bam", "F_p1", s3_bucket["bam"].s3_path),
        _individual_sample("cram", "F_p1", s3_bucket["cram"].s3_path, s3_bucket["crai"].s3_path),
        _individual_sample("only_bai", "F_p1", s3_bucket["only_bai_bam"].s3_path),
        _individual_sample("unicode", "F_p1", s3_bucket["unicode_bam"].s3_path),
        _individual_sample("odd_chars", "F_p1", s3_bucket["odd_chars_bam"].s3_path),
        _individual_sample("large", "F_p1", s3_bucket["large"].s3_path),
        _individual_sample("private", "F_p1", s3_bucket["private_bam"].s3_path),
        _individual_sample("local", "F_p1", str(reads.bam)),
        _individual_sample("hostile_page", "F_p1", s3_bucket["hostile_page"].s3_path),
    ]
    project_2_rows = [_individual_sample("p2_bam", "F_p2", s3_bucket["project2_bam"].s3_path)]
    rows = project_1_rows + project_2_rows
    seed = {
        "users": [
            {"username": u.username, "email": u.email, "password": u.password, "is_superuser": role == "pm"}
            for role, u in users.items()
        ],
        "projects": [
            {"guid": PROJECT_1, "name": "Project 1", "collaborators": [users["collaborator"].username]},
            {"guid": PROJECT_2, "name": "Project 2", "collaborators": [users["other"].username]},
        ],
        "families": [
            {"guid": "F_p1", "project": PROJECT_1, "family_id": "family_1"},
            {"guid": "F_p2", "project": PROJECT_2, "family_id": "family_2"},
        ],
        "individuals": [individual for individual, _ in rows],
        "igv_samples": [sample for _, sample in rows],
    }
    return StandinData(seed=seed, users=users, local_bam=reads.bam)


def default_seqr_s3_config(mode: str, s3_server: SeaweedS3) -> dict[str, Any]:
    """SEQR_S3 as the role would write it for this loopback SeaweedFS."""
    return {
        "MODE": mode,
        "ALLOWED_PREFIXES": [ALLOWED_PREFIX],
        "ENDPOINT_URL": s3_server.endpoint_url,
        "ADDRESSING_STYLE": "path",
        "REGION": s3_server.region,
    }


@pytest.fixture(scope="session")
def standin_factory(
    tmp_path_factory: pytest.TempPathFactory, s3_server: SeaweedS3, standin_data: StandinData
) -> Iterator[Callable[..., StandinServer]]:
    """``start(mode=None, **seqr_s3_overrides)``: one live stand-in per distinct configuration, reused."""
    running: dict[str, StandinServer] = {}

    def start(mode: str | None = None, **overrides: Any) -> StandinServer:
        config = None if mode is None else {**default_seqr_s3_config(mode, s3_server), **overrides}
        cache_key = json.dumps(config, sort_keys=True)
        if cache_key in running:
            return running[cache_key]
        workdir = tmp_path_factory.mktemp(f"standin_{mode or 'upstream'}")
        if config is not None and "ACCEL_SECRET_FILE" not in config:
            # As the role sets it: nginx_factory's nginx sends the same secret.
            config["ACCEL_SECRET_FILE"] = str(write_accel_secret(workdir / "accel_secret"))
        aws_files = write_aws_files(
            workdir / "aws", s3_server.reader.access_key, s3_server.reader.secret_key, s3_server.region
        )
        env = standin_env(
            db_path=workdir / "db.sqlite3",
            settings_module="settings" if config is None else S3_SETTINGS_MODULE,
            seqr_s3_config=config,
            aws_files=aws_files,
        )
        prepare_database(env, standin_data.seed, workdir)
        running[cache_key] = start_standin(workdir, env)
        return running[cache_key]

    try:
        yield start
    finally:
        for server in running.values():
            server.stop()


@pytest.fixture(scope="session")
def seeded_session(
    standin_data: StandinData,
) -> Callable[[StandinServer | NginxServer, str], requests.Session]:
    """``login(server, "collaborator" | "other" | "pm")`` → a logged-in requests.Session."""

    def login(server: StandinServer | NginxServer, role: str) -> requests.Session:
        user = standin_data.users[role]
        return login_session(server.base_url, user.email, user.password)

    return login


@pytest.fixture(scope="session")
def nginx_factory(
    tmp_path_factory: pytest.TempPathFactory, s3_server: SeaweedS3
) -> Iterator[Callable[..., NginxServer]]:
    """``start(standin_server, **role_vars)``: nginx with the role's site in front of that stand-in.

    Skips the test with the reason when the role's template or renderer does not exist yet.
    """
    running: list[NginxServer] = []

    def start(standin: StandinServer, **role_vars: Any) -> NginxServer:
        upstream = standin.bind
        mode = json.loads(standin.env.get("SEQR_S3_TEST_CONFIG", "{}")).get("MODE", "accel")
        variables = {"seqr_s3_mode": mode, "seqr_s3_endpoint_url": s3_server.endpoint_url, **role_vars}
        try:
            server = start_nginx(
                tmp_path_factory.mktemp("nginx"),
                upstream,
                free_loopback_ports(1)[0],
                variables,
                accel_secret=accel_secret_of(standin.env),
            )
        except NginxUnavailable as e:
            pytest.skip(f"nginx stack unavailable: {e}")
        running.append(server)
        return server

    try:
        yield start
    finally:
        for server in running:
            server.stop()
