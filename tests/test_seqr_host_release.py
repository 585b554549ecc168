"""scripts/seqr_host_release.py: the real_seqr scenario's seqr host release, read from a seqr checkout.

Each case writes a checkout's deploy/docker/seqr/Dockerfile in the shapes seqr shipped (one stage in 2021,
build and runtime stages from 2022, a node stage first at HEAD) and runs the script as `make
molecule-real-seqr` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "seqr_host_release.py"

# The FROM lines of seqr's own Dockerfile at the commits the scenario is run against.
SEQR_2021 = "FROM python:3.7-slim-bullseye\n\nLABEL maintainer=x\n"
SEQR_2023 = "FROM python:3.9-slim-bullseye as build\nRUN true\nFROM python:3.9-slim-bullseye as runtime\n"
SEQR_HEAD = (
    "# syntax\nFROM node:14-bullseye AS ui-build\nRUN npm ci\n"
    "FROM python:3.11-slim-bullseye AS build\nFROM python:3.11-slim-bullseye AS runtime\n"
)


def run(checkout: Path, release: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SEQR_S3_DEBIAN_RELEASE"}
    if release is not None:
        env["SEQR_S3_DEBIAN_RELEASE"] = release
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(checkout)], capture_output=True, text=True, env=env, check=False
    )


def checkout(tmp_path: Path, dockerfile: str | None) -> Path:
    if dockerfile is not None:
        path = tmp_path / "deploy" / "docker" / "seqr" / "Dockerfile"
        path.parent.mkdir(parents=True)
        path.write_text(dockerfile, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        (SEQR_2021, "bullseye 3.9 3.7"),
        (SEQR_2023, "bullseye 3.9 3.9"),
        (SEQR_HEAD, "bookworm 3.11 3.11"),
        ("FROM python:3.10\n", "bookworm 3.11 3.10"),
        ("FROM --platform=linux/amd64 docker.io/library/python:3.12.4-slim AS build\n", "trixie 3.13 3.12"),
        ("from python:3.13-slim\n", "trixie 3.13 3.13"),
    ],
    ids=["3.7-2021", "3.9-two-stages", "3.11-node-stage-first", "3.10", "3.12-platform-flag", "3.13-lower"],
)
def test_release_is_the_oldest_whose_python_is_at_least_seqrs(
    tmp_path: Path, dockerfile: str, expected: str
) -> None:
    result = run(checkout(tmp_path, dockerfile))
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"
    release, host_python, seqr_python = expected.split()
    assert f"{release}, for Python {seqr_python}" in result.stderr
    assert f"its python3 is {host_python}" in result.stderr


def test_python_newer_than_every_release_takes_the_newest_with_a_warning(tmp_path: Path) -> None:
    result = run(checkout(tmp_path, "FROM python:3.14-slim\n"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "trixie 3.13 3.14\n"
    assert "WARNING: newer than every release here" in result.stderr


def test_variable_wins_over_the_dockerfile(tmp_path: Path) -> None:
    result = run(checkout(tmp_path, SEQR_2021), release="trixie")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "trixie 3.13 3.7\n"
    assert "set by SEQR_S3_DEBIAN_RELEASE (its Dockerfile names Python 3.7)" in result.stderr


def test_variable_serves_a_checkout_without_the_dockerfile(tmp_path: Path) -> None:
    result = run(checkout(tmp_path, None), release="bookworm")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "bookworm 3.11 unknown\n"


@pytest.mark.parametrize(
    ("dockerfile", "release", "message"),
    [
        (None, None, "has no deploy/docker/seqr/Dockerfile to read seqr's Python from; set SEQR_S3_DEBIAN_"),
        ("FROM debian:bullseye\n", None, "has no 'FROM python:X.Y' stage; set SEQR_S3_DEBIAN_RELEASE"),
        ("FROM python:3.9 AS a\nFROM python:3.11 AS b\n", None, "builds on more than one Python (3.11, 3.9)"),
        (SEQR_2021, "buster", "SEQR_S3_DEBIAN_RELEASE='buster' is not one of bullseye, bookworm, trixie"),
    ],
    ids=["no-dockerfile", "no-python-stage", "two-pythons", "unknown-release"],
)
def test_undecidable_checkout_is_refused_with_what_to_do(
    tmp_path: Path, dockerfile: str | None, release: str | None, message: str
) -> None:
    result = run(checkout(tmp_path, dockerfile), release=release)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
