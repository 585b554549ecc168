"""scripts/build-wheelhouse.sh (`make wheelhouse`) for a seqr host whose Python is not the controller's.

A wheelhouse for Debian 11 (Python 3.9) built on this machine (3.11) must hold what botocore asks for on 3.9:
urllib3 1.26, not the urllib3 2 pip would pick by evaluating botocore's markers for the Python running it (a
Molecule converge on Debian 11 with no package index failed exactly so). Uses the package index, as
`make wheelhouse` does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from wheelhouse_resolve import marker_environment, requirements_of  # noqa: E402


def _wheelhouse(dest: Path, host_python: str) -> dict[str, Path]:
    subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "build-wheelhouse.sh"), sys.executable, str(dest), host_python],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return {canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in dest.glob("*.whl")}


def _unmet(wheels: dict[str, Path], host_python: str) -> list[str]:
    """Requirements of any wheel, on ``host_python``, that no wheel in the house satisfies."""
    environment = marker_environment(host_python)
    unmet = []
    for wheel in wheels.values():
        for requirement in requirements_of(wheel, environment):
            held = wheels.get(canonicalize_name(requirement.name))
            if held is None or parse_wheel_filename(held.name)[1] not in requirement.specifier:
                unmet.append(f"{wheel.name}: {requirement}")
    return unmet


@pytest.mark.parametrize(("host_python", "boto3"), [("3.9", "1.42.97"), ("3.11", "1.44.5")])
def test_wheelhouse_meets_every_requirement_on_the_hosts_python(
    host_python: str, boto3: str, tmp_path: Path
) -> None:
    wheels = _wheelhouse(tmp_path / "house", host_python)
    assert parse_wheel_filename(wheels["boto3"].name)[1].public == boto3
    assert _unmet(wheels, host_python) == []
    if host_python == "3.9":
        assert parse_wheel_filename(wheels["urllib3"].name)[1].major == 1


def test_a_second_build_into_the_same_folder_keeps_one_version_per_project(tmp_path: Path) -> None:
    house = tmp_path / "house"
    _wheelhouse(house, "3.11")
    wheels = _wheelhouse(house, "3.9")
    names = [canonicalize_name(parse_wheel_filename(w.name)[0]) for w in house.glob("*.whl")]
    assert sorted(names) == sorted(set(names))
    assert _unmet(wheels, "3.9") == []
