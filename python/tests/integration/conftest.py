"""Stacks the seqr_s3 integration tests run against, built on the session fixtures of
tests/fixtures/session.py (registered for every test folder by the repository's conftest.py).

A "stack" is what a browser talks to for one serving mode: the stand-in's gunicorn directly (proxy,
redirect) or the role's nginx site in front of it (accel, where nginx does the fetching).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from s3_track_support import Stack

# Small chunks so even the BAM fixture streams in many pieces.
PROXY_CHUNK_SIZE = 65536


# The role's nginx variables of each accel way in: authorize once is the role's default; "per-request" is a
# seqr request per range (seqr_s3_nginx_authorize_ttl: 0).
ACCEL_PER_REQUEST = {"seqr_s3_nginx_authorize_ttl": 0}


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
