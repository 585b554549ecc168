"""Download one requirement and everything it depends on as wheels for another Python than this one.

pip download --python-version picks wheels for the target Python but evaluates dependency markers against the
Python running pip: botocore's `urllib3<1.27; python_version < "3.10"` is skipped when pip runs on 3.11 and
a wheelhouse for Python 3.9 gets urllib3 2, which botocore there refuses. So each wheel is fetched with
--no-deps, its Requires-Dist markers are evaluated for the target Python here, and the specifiers every
dependent asks for are combined until nothing changes.

Usage: wheelhouse_resolve.py --role-boto3-pin HOST_PYTHON  (prints the boto3 version the role installs there)
       wheelhouse_resolve.py DEST HOST_PYTHON PLATFORM REQUIREMENT...  (e.g. dist/wheelhouse 3.9
manylinux2014_x86_64 boto3==1.42.97 urllib3==2.6.3). Each requirement is resolved on its own, so two may keep
two versions of one project (pip picks the one its constraints allow). Prints one line per wheel kept.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

ROLE_VARS = Path(__file__).resolve().parents[1] / "roles" / "seqr_s3" / "vars" / "main.yml"


def role_boto3_pin(host_python: str) -> str:
    """The boto3 version the role installs into a virtualenv of ``host_python`` (major.minor) by default: its
    pin table in roles/seqr_s3/vars/main.yml, the only place it is written."""
    internal = yaml.safe_load(ROLE_VARS.read_text())
    return str(internal["__seqr_s3_boto3_pins"].get(host_python, internal["__seqr_s3_boto3_pin_default"]))


def marker_environment(host_python: str) -> dict[str, str]:
    """The marker variables of CPython ``host_python`` (major.minor[.micro]) on Linux."""
    return {
        "python_version": ".".join(host_python.split(".")[:2]),
        "python_full_version": host_python if host_python.count(".") == 2 else f"{host_python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "extra": "",
    }


def requirements_of(wheel: Path, environment: dict[str, str]) -> list[Requirement]:
    """The wheel's Requires-Dist entries whose markers hold on the target Python (no extras)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    found = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            found.append(requirement)
    return found


def download(dest: Path, host_python: str, platform: str, name: str, specifier: SpecifierSet) -> Path:
    """Fetch the newest wheel of ``name`` matching ``specifier`` for the target; returns its path."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            host_python,
            "--platform",
            platform,
            "--dest",
            str(dest),
            f"{name}{specifier}",
        ],
        check=True,
    )
    matching = {}
    for wheel in dest.glob("*.whl"):
        project, version, _, _ = parse_wheel_filename(wheel.name)
        if canonicalize_name(project) == name and version in specifier:
            matching[version] = wheel
    return matching[max(matching)]


def resolve(dest: Path, host_python: str, platform: str, root: str) -> dict[str, Path]:
    """Wheels for ``root`` and its dependencies on the target, one per project, every specifier met."""
    dest.mkdir(parents=True, exist_ok=True)
    environment = marker_environment(host_python)
    asked: dict[str, SpecifierSet] = {}
    chosen: dict[str, Path] = {}
    pending = [Requirement(root)]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        combined = asked.get(name, SpecifierSet()) & requirement.specifier
        if name in chosen and combined == asked.get(name):
            continue
        asked[name] = combined
        if name in chosen:
            _, version, _, _ = parse_wheel_filename(chosen[name].name)
            if version in combined:
                continue
            chosen.pop(name).unlink()
        chosen[name] = download(dest, host_python, platform, name, combined)
        pending.extend(requirements_of(chosen[name], environment))
    return chosen


def prune(dest: Path, kept: set[Path]) -> None:
    """Delete other versions of the kept wheels' projects, left by an earlier run into this folder: pip could
    pick them over the resolved ones."""
    projects = {canonicalize_name(parse_wheel_filename(wheel.name)[0]) for wheel in kept}
    for wheel in dest.glob("*.whl"):
        if canonicalize_name(parse_wheel_filename(wheel.name)[0]) in projects and wheel not in kept:
            wheel.unlink()


def main() -> None:
    if sys.argv[1:2] == ["--role-boto3-pin"]:
        print(role_boto3_pin(sys.argv[2]))
        return
    dest, host_python, platform, *roots = sys.argv[1:]
    kept: set[Path] = set()
    for root in roots:
        for name, wheel in sorted(resolve(Path(dest), host_python, platform, root).items()):
            print(f"{root}: {name}: {wheel.name}")
            kept.add(wheel)
    prune(Path(dest), kept)


if __name__ == "__main__":
    main()
