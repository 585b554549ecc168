"""Stacks the seqr_s3 integration tests run against, built on the session fixtures of
tests/fixtures/session.py (registered for every test folder by the repository's conftest.py).

A "stack" is what a browser talks to for one serving mode: the stand-in's gunicorn directly (proxy,
redirect) or the role's nginx site in front of it (accel, where nginx does the fetching). Package behaviour
that needs no process of its own runs in this one: ``seqr_in_process`` (fixtures.in_process).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from fixtures.in_process import InProcessSeqr, setup_standin_django
from fixtures.session import default_seqr_s3_config
from fixtures.standin import AwsProfileFiles, write_aws_files
from s3_track_support import ACCEL_PER_REQUEST, Stack

# Small chunks so even the BAM fixture streams in many pieces.
PROXY_CHUNK_SIZE = 65536


@pytest.fixture(scope="session")
def make_stack(
    standin_factory: Callable[..., Any],
    nginx_factory: Callable[..., Any],
    seeded_session: Callable[..., requests.Session],
) -> Callable[..., Stack]:
    """``make_stack(mode, nginx_vars=None, **seqr_s3_overrides)``: the stack for one mode (accel: nginx with
    the role's site and these role variables), logged in as the collaborator."""
    built: dict[str, Stack] = {}

    def make(mode: str, nginx_vars: dict[str, Any] | None = None, **overrides: Any) -> Stack:
        key = repr((mode, sorted((nginx_vars or {}).items()), sorted(overrides.items())))
        if key not in built:
            if mode == "proxy":
                overrides = {"CHUNK_SIZE": PROXY_CHUNK_SIZE, **overrides}
            standin = standin_factory(mode, **overrides)
            front = nginx_factory(standin, **(nginx_vars or {})) if mode == "accel" else standin
            built[key] = Stack(mode, front.base_url, seeded_session(front, "collaborator"), standin)
        return built[key]

    return make


@pytest.fixture(scope="session", params=["proxy", "accel", "redirect"])
def stack(request: pytest.FixtureRequest, make_stack: Callable[..., Stack]) -> Stack:
    """Each serving mode in turn (accel as the role sets it up by default: authorize once)."""
    return make_stack(request.param)


@pytest.fixture(scope="session", params=["proxy", "accel-authorize-once", "accel-per-request"])
def battery_stack(request: pytest.FixtureRequest, make_stack: Callable[..., Stack]) -> Stack:
    """Where every Range a client may send is answered as RFC 9110 says: proxy mode, and accel both with
    authorize once (nginx fetches each range itself) and without (seqr canonicalises each range)."""
    if request.param == "proxy":
        return make_stack("proxy")
    return make_stack("accel", ACCEL_PER_REQUEST if request.param == "accel-per-request" else None)


@pytest.fixture(scope="session")
def proxy_stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack("proxy")


@pytest.fixture(scope="session")
def standin_django(
    tmp_path_factory: pytest.TempPathFactory, s3_server: Any, standin_data: Any
) -> AwsProfileFiles:
    """The stand-in's Django with seqr_s3, set up once in this process (fixtures.in_process); returns the
    profile files boto3 reads its credentials from (the read-only ``reader`` of the session's SeaweedFS)."""
    workdir = tmp_path_factory.mktemp("standin_in_process")
    setup_standin_django(workdir, standin_data.seed, default_seqr_s3_config("proxy", s3_server))
    return write_aws_files(
        workdir / "aws", s3_server.reader.access_key, s3_server.reader.secret_key, s3_server.region
    )


@pytest.fixture
def seqr_in_process(
    standin_django: AwsProfileFiles, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcessSeqr]:
    """The in-process stand-in for one test: database changes rolled back at its end, boto3 credentials only
    from the test's profile files (no AWS_* of the calling shell), SEQR_S3 chosen with ``use(mode)``."""
    from django.db import transaction

    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {**standin_django.env(), "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    seqr = InProcessSeqr(lambda mode: default_seqr_s3_config(mode, s3_server))
    with transaction.atomic():
        try:
            yield seqr
        finally:
            seqr.close()
            transaction.set_rollback(True)
