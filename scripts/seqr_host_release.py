#!/usr/bin/env python3
"""Which Debian release the real_seqr scenario's seqr host runs, chosen from the seqr checkout under test.

Usage: seqr_host_release.py SEQR_SOURCE

seqr's own image names the Python it ran on: ``FROM python:3.9-slim-bullseye`` in
deploy/docker/seqr/Dockerfile (3.7 in late 2021, 3.9 from 2022 to mid-2025, 3.11 since). The seqr host gets
the oldest Debian release whose python3 is at least that version, so the checkout's pins meet the Python they
were written for or the nearest newer one (3.7 and 3.9 -> bullseye, 3.10 and 3.11 -> bookworm, 3.12 and 3.13
-> trixie); a Python newer than every release's gets the newest, with a warning. SEQR_S3_DEBIAN_RELEASE, when
set, wins over the Dockerfile (and is all a checkout without that Dockerfile needs).

Prints one line on stdout, ``RELEASE HOST_PYTHON SEQR_PYTHON`` (SEQR_PYTHON is ``unknown`` when the release
was given and the Dockerfile names none), and says why on stderr. Exits 2, saying what to do, when neither the
variable nor the Dockerfile decides.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCKERFILE = "deploy/docker/seqr/Dockerfile"
RELEASE_VARIABLE = "SEQR_S3_DEBIAN_RELEASE"
# Debian release -> the version of its python3, oldest release first (scripts/build-image.sh builds these).
DEBIAN_PYTHONS = {"bullseye": (3, 9), "bookworm": (3, 11), "trixie": (3, 13)}
DEBIAN_VERSIONS = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
# `FROM [--platform=...] python:3.9[.x][-variant] [AS stage]`, any case; other stages (node, ...) are ignored.
PYTHON_STAGE = re.compile(
    r"^\s*FROM\s+(?:--\S+\s+)*(?:\S+/)?python:(\d+)\.(\d+)\b", re.IGNORECASE | re.MULTILINE
)
SET_VARIABLE = f"set {RELEASE_VARIABLE} to one of {', '.join(DEBIAN_PYTHONS)}"


class ChoiceError(Exception):
    """Neither SEQR_S3_DEBIAN_RELEASE nor the checkout decides; the message says what to do."""


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def seqr_python(source: Path) -> tuple[int, int] | None:
    """The Python version of seqr's own image, or None when the checkout has no such Dockerfile.

    Raises ChoiceError when the Dockerfile exists but names no python image, or names two different versions.
    """
    dockerfile = source / DOCKERFILE
    if not dockerfile.is_file():
        return None
    stages = PYTHON_STAGE.findall(dockerfile.read_text("utf-8"))
    versions = {(int(major), int(minor)) for major, minor in stages}
    if not versions:
        raise ChoiceError(f"{dockerfile} has no 'FROM python:X.Y' stage; {SET_VARIABLE}")
    if len(versions) > 1:
        found = ", ".join(sorted(_text(version) for version in versions))
        raise ChoiceError(f"{dockerfile} builds on more than one Python ({found}); {SET_VARIABLE}")
    return versions.pop()


def release_for(python: tuple[int, int]) -> tuple[str, bool]:
    """The oldest release whose python3 is at least ``python``; True when none is and the newest was taken."""
    for release, host_python in DEBIAN_PYTHONS.items():
        if host_python >= python:
            return release, False
    return list(DEBIAN_PYTHONS)[-1], True


def choose(source: Path, override: str) -> tuple[str, tuple[int, int] | None, str]:
    """(release, seqr's Python or None, the sentence saying why) for the checkout at ``source``."""
    if override and override not in DEBIAN_PYTHONS:
        raise ChoiceError(f"{RELEASE_VARIABLE}={override!r} is not one of {', '.join(DEBIAN_PYTHONS)}")
    python = seqr_python(source)
    if override:
        asked = f"its Dockerfile names Python {_text(python)}" if python else f"it has no {DOCKERFILE}"
        return override, python, f"{override}, set by {RELEASE_VARIABLE} ({asked})"
    if python is None:
        raise ChoiceError(f"{source} has no {DOCKERFILE} to read seqr's Python from; {SET_VARIABLE}")
    release, older = release_for(python)
    reason = f"{release}, for Python {_text(python)} in the checkout's {DOCKERFILE}"
    if older:
        newest = _text(DEBIAN_PYTHONS[release])
        reason += f" (WARNING: newer than every release here; {release} has Python {newest})"
    return release, python, reason


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} SEQR_SOURCE", file=sys.stderr)
        return 2
    source = Path(argv[1])
    try:
        release, python, reason = choose(source, os.environ.get(RELEASE_VARIABLE, "").strip())
    except ChoiceError as e:
        print(f"seqr_host_release: {e}", file=sys.stderr)
        return 2
    host_python = _text(DEBIAN_PYTHONS[release])
    debian = DEBIAN_VERSIONS[release]
    print(f"seqr host: Debian {debian} {reason}; its python3 is {host_python}", file=sys.stderr)
    print(release, host_python, _text(python) if python else "unknown")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
