"""The role installs the package from a wheel built on the controller (seqr_s3_package_wheel).

The wheel comes from scripts/build-wheel.sh (`make wheel`, playbooks/site.yml): the same source gives the same
bytes, and the wheel holds the package and nothing else. The role's validate.yml, home.yml and package.yml
then run on this machine against a real virtualenv laid out like a seqr host's: the wheel is copied into the
role's folder and pip-installed, a second run changes nothing, check mode installs nothing, a rebuilt wheel is
installed again.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import yaml
from role_play import NO_INDEX, write_package_play
from role_render import REPO_ROOT, ROLE_DIR, changed_count, make_seqr_host, run_playbook

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from wheelhouse_resolve import role_boto3_pin

BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-wheel.sh"
PACKAGE_DIR = REPO_ROOT / "python" / "src" / "seqr_s3"
MARKER = "# rebuilt by test_role_package"
VERSION = tomllib.loads((REPO_ROOT / "python" / "pyproject.toml").read_text())["project"]["version"]


def _build(python_dir: Path, out: Path) -> Path:
    """pip wheel, offline, the way scripts/build-wheel.sh calls it (for a modified copy of python/)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(python_dir),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={"SOURCE_DATE_EPOCH": "315532800", "PATH": "/usr/bin:/bin"},
    )
    (wheel,) = out.glob("seqr_s3-*-py3-none-any.whl")
    return wheel


def test_build_script_gives_the_same_bytes_and_only_the_package() -> None:
    first = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=300, check=True
    )
    status, path = first.stdout.strip().splitlines()[-1].split(" ", 1)
    wheel = Path(path)
    assert status in {"built", "unchanged"}
    assert wheel.parent == REPO_ROOT / "dist" and wheel.name.startswith("seqr_s3-")
    before = wheel.read_bytes()
    again = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=300, check=True
    )
    assert again.stdout.strip().splitlines()[-1] == f"unchanged {wheel}"
    assert wheel.read_bytes() == before
    assert not (REPO_ROOT / "python" / "build").exists(), "build output must not stay in python/"
    with zipfile.ZipFile(wheel) as archive:
        modules = {name for name in archive.namelist() if not name.startswith("seqr_s3-")}
    in_source = {
        path.relative_to(PACKAGE_DIR.parent).as_posix()
        for path in PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert modules == in_source


@pytest.fixture(scope="module")
def seqr_host(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A seqr checkout and virtualenv on this machine as validate.yml expects them (no service to restart)."""
    return make_seqr_host(tmp_path_factory.mktemp("seqr_host"), getpass.getuser())


def _installed_init(host: dict) -> str:
    return subprocess.run(
        [
            f"{host['seqr_s3_venv']}/bin/python",
            "-c",
            "import seqr_s3, pathlib; print(pathlib.Path(seqr_s3.__file__).read_text())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_role_installs_the_wheel_once_and_again_only_when_it_changed(seqr_host: dict, tmp_path: Path) -> None:
    playbook = write_package_play(tmp_path)
    wheel = _build(REPO_ROOT / "python", tmp_path / "wheel_1")
    home = Path(seqr_host["seqr_s3_home"])
    # A home left by an older version of the role: the source it installed from, and its record of seqr's
    # virtualenv before the first install (which is how validate.yml knows the unmarked folder as the role's).
    (home / "src").mkdir(parents=True)
    (home / "state").mkdir()
    (home / "state" / "venv-before.json").write_text("{}\n")
    variables = {**seqr_host, "seqr_s3_package_wheel": str(wheel)}

    first = run_playbook(playbook, variables)
    assert first.returncode == 0, first.stdout[-3000:]
    assert changed_count(first.stdout) > 0
    assert f"seqr_s3 {VERSION} in {seqr_host['seqr_s3_venv']}" in first.stdout  # the role's output names it
    assert MARKER not in _installed_init(seqr_host)
    assert sorted(p.name for p in (home / "wheels").iterdir()) == [wheel.name]
    assert not (home / "src").exists()

    second = run_playbook(playbook, variables)
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second.stdout) == 0, second.stdout[-3000:]

    # The same version rebuilt from changed source: check mode reports it and installs nothing...
    source = tmp_path / "python"
    shutil.copytree(
        REPO_ROOT / "python", source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info")
    )
    init = source / "src" / "seqr_s3" / "__init__.py"
    init.write_text(init.read_text() + MARKER + "\n")
    rebuilt = _build(source, tmp_path / "wheel_2")
    assert rebuilt.name == wheel.name
    variables["seqr_s3_package_wheel"] = str(rebuilt)
    checked = run_playbook(playbook, variables, "--check")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert changed_count(checked.stdout) > 0
    assert MARKER not in _installed_init(seqr_host)

    # ...a real run installs it, and the run after that changes nothing.
    third = run_playbook(playbook, variables)
    assert third.returncode == 0, third.stdout[-3000:]
    assert MARKER in _installed_init(seqr_host)
    fourth = run_playbook(playbook, variables)
    assert changed_count(fourth.stdout) == 0, fourth.stdout[-3000:]


@pytest.mark.parametrize(
    ("wheel", "said"),
    [
        ("", "seqr_s3_package_wheel is ''"),
        ("{tmp}/seqr_s3-0.1.0.tar.gz", "a file seqr_s3-<version>-py3-none-any.whl"),
        ("{tmp}/seqr_s3-0.1.0-py3-none-any.whl", "(no such file on the controller)"),
    ],
    ids=["empty", "not-a-wheel", "missing-file"],
)
def test_role_refuses_a_wheel_that_is_not_one(wheel: str, said: str, seqr_host: dict, tmp_path: Path) -> None:
    (tmp_path / "seqr_s3-0.1.0.tar.gz").write_bytes(b"not a wheel")
    playbook = write_package_play(tmp_path)
    refused = run_playbook(playbook, {**seqr_host, "seqr_s3_package_wheel": wheel.format(tmp=tmp_path)})
    assert refused.returncode != 0
    assert "Check the package wheel on the controller" in refused.stdout
    assert said in refused.stdout
    assert "make wheel" in refused.stdout


WHEELHOUSE_SCRIPT = REPO_ROOT / "scripts" / "build-wheelhouse.sh"


def test_role_boto3_pins_need_no_newer_python() -> None:
    """Python 3.9 (Debian 11) gets the last boto3 that supports it; 3.10 and later the role's default pin."""
    assert yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())["seqr_s3_boto3_version"] == ""
    assert role_boto3_pin("3.9") == "1.42.97"
    assert role_boto3_pin("3.11") == role_boto3_pin("3.13") == "1.44.5"


def test_role_installs_boto3_from_a_wheelhouse_with_no_index_reachable(tmp_path: Path) -> None:
    """seqr_s3_pip_wheelhouse (filled by scripts/build-wheelhouse.sh, `make wheelhouse`) is copied to the host
    and boto3 with its dependencies comes from it alone; a second run and check mode change nothing."""
    host = make_seqr_host(tmp_path / "host", getpass.getuser())
    wheelhouse = tmp_path / "wheelhouse"
    host_python = (
        f"{sys.version_info.major}.{sys.version_info.minor}"  # the test venv's, as a host's would be
    )
    subprocess.run(
        ["bash", str(WHEELHOUSE_SCRIPT), sys.executable, str(wheelhouse), host_python],
        check=True,
        capture_output=True,
        timeout=300,
    )
    playbook = write_package_play(tmp_path)
    variables = {
        **host,
        "seqr_s3_package_wheel": str(_build(REPO_ROOT / "python", tmp_path / "wheel")),
        "seqr_s3_pip_wheelhouse": str(wheelhouse),
    }

    first = run_playbook(playbook, variables, env=NO_INDEX)
    assert first.returncode == 0, first.stdout[-3000:]
    boto3 = subprocess.run(
        [f"{host['seqr_s3_venv']}/bin/python", "-c", "import boto3; print(boto3.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert boto3 == role_boto3_pin(host_python)
    copied = sorted(path.name for path in (Path(host["seqr_s3_home"]) / "wheelhouse").iterdir())
    assert copied == sorted(path.name for path in wheelhouse.iterdir())

    for extra in ((), ("--check",)):
        again = run_playbook(playbook, variables, *extra, env=NO_INDEX)
        assert again.returncode == 0, again.stdout[-3000:]
        assert changed_count(again.stdout) == 0, again.stdout[-3000:]


def _running_python_pin() -> str:
    return role_boto3_pin(f"{sys.version_info.major}.{sys.version_info.minor}")


@pytest.mark.parametrize(
    ("folder", "task", "said"),
    [
        ("missing", "Check that the wheelhouse is a folder", "(no such folder on the controller)"),
        ("empty", "Check that the wheelhouse holds that boto3", f"no boto3-{_running_python_pin()}-*.whl"),
    ],
    ids=["missing-folder", "no-boto3-wheel"],
)
def test_role_refuses_a_wheelhouse_without_boto3(
    folder: str, task: str, said: str, seqr_host: dict, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    playbook = write_package_play(tmp_path)
    # A real wheel: the boto3 pin is checked after the package's own settings validation, which reads it.
    wheel = _build(REPO_ROOT / "python", tmp_path / "wheel")
    variables = {
        **seqr_host,
        "seqr_s3_package_wheel": str(wheel),
        "seqr_s3_pip_wheelhouse": str(tmp_path / folder),
    }
    refused = run_playbook(playbook, variables)
    assert refused.returncode != 0
    assert task in refused.stdout
    assert said in refused.stdout and "make wheelhouse" in refused.stdout
