"""Every role test runs the role against folders under its temp folder, never this machine's services.

The guard below fails the test during which this machine's nginx was started or reloaded (its pid file
appeared or changed) or the role's default grants' folder appeared: either means a run reached this machine's
nginx (the "Reload nginx" handler starts a stopped nginx) or its /run, instead of the stand-in's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

MACHINE_PATHS = (Path("/run/nginx.pid"), Path("/run/seqr_s3_nginx_authorize"))


def _state(path: Path) -> Optional[tuple[int, int]]:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns)


@pytest.fixture(autouse=True)
def _machine_nginx_untouched() -> Iterator[None]:
    before = {path: _state(path) for path in MACHINE_PATHS}
    yield
    touched = [str(path) for path in MACHINE_PATHS if _state(path) != before[path]]
    assert not touched, f"the test reached this machine's nginx or /run: {', '.join(touched)} changed"
