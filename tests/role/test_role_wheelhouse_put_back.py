"""A wheelhouse with no index behind it must be able to undo what installing boto3 from it replaces.

seqr's virtualenv here holds urllib3 2.2.0, which botocore excludes on Python 3.10 and later, as a seqr host
on Debian 11 holds a urllib3 2 that botocore excludes on 3.9. Installing boto3 replaces it; removal, with no
index, can put it back only from the wheelhouse. The role refuses a wheelhouse that could not, before anything
changes, and removal checks the host's copy before it uninstalls anything. Real pip, real wheels (from
scripts/build-wheelhouse.sh), the whole role on this machine, every index unreachable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from role_play import NO_INDEX, PLAY, SeqrStandinHost, tree_listing
from role_render import REPO_ROOT, run_playbook

WHEELHOUSE_SCRIPT = REPO_ROOT / "scripts" / "build-wheelhouse.sh"
REPLACED = "urllib3==2.2.0"
REPLACED_WHEEL = "urllib3-2.2.0-py3-none-any.whl"
PLATFORM = "manylinux2014_x86_64"


def _host_python() -> str:
    """The stand-in virtualenv's Python (this one's), as a seqr host's would be."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3 at the role's pin for this Python, its dependencies, and urllib3 2.2.0 (WHEELHOUSE_EXTRA)."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        ["bash", str(WHEELHOUSE_SCRIPT), sys.executable, str(folder), _host_python(), PLATFORM, REPLACED],
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert (folder / REPLACED_WHEEL).is_file()
    return folder


def _venv_packages(host: SeqrStandinHost) -> dict[str, str]:
    listed = subprocess.run(
        [str(host.venv / "bin" / "pip"), "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {package["name"].lower(): package["version"] for package in json.loads(listed)}


def _host_with_urllib3_220(root: Path, wheelhouse: Path) -> SeqrStandinHost:
    host = SeqrStandinHost(root, with_venv=True)
    subprocess.run(
        [str(host.venv / "bin" / "pip"), "install", "-q", "--no-index", "-f", str(wheelhouse), REPLACED],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return host


def _run(host: SeqrStandinHost, workdir: Path, wheelhouse: Path, **overrides: object):
    playbook = workdir / "play_main.yml"
    playbook.write_text(PLAY.format(tasks="main"))
    # nginx is not what this is about: the role leaves it alone (no site, no nginx -t, no reload).
    variables = host.variables(seqr_s3_pip_wheelhouse=str(wheelhouse), seqr_s3_nginx_manage=False)
    variables.update(overrides)
    return run_playbook(playbook, variables, env=NO_INDEX)


def test_role_refuses_a_wheelhouse_that_could_not_put_back_what_boto3_replaces(
    wheelhouse: Path, tmp_path: Path
) -> None:
    short = tmp_path / "short_wheelhouse"
    shutil.copytree(wheelhouse, short)
    (short / REPLACED_WHEEL).unlink()
    host = _host_with_urllib3_220(tmp_path / "host", wheelhouse)
    venv_before = tree_listing(host.venv)

    refused = _run(host, tmp_path, short)

    assert refused.returncode != 0
    assert "Check that the wheelhouse can put back each version" in refused.stdout
    assert REPLACED in refused.stdout and f'WHEELHOUSE_EXTRA="{REPLACED}"' in refused.stdout
    assert tree_listing(host.venv) == venv_before, "seqr's virtualenv changed"
    assert host.settings.read_text() == SeqrStandinHost.SETTINGS
    assert not host.restarted.exists(), "seqr was restarted"


def test_removal_puts_back_the_replaced_version_with_no_index_and_checks_first(
    wheelhouse: Path, tmp_path: Path
) -> None:
    host = _host_with_urllib3_220(tmp_path / "host", wheelhouse)
    packages_before = _venv_packages(host)

    converged = _run(host, tmp_path, wheelhouse)
    assert converged.returncode == 0, converged.stdout[-3000:]
    installed = _venv_packages(host)
    assert "boto3" in installed and installed["urllib3"] != "2.2.0", "boto3's install kept urllib3 2.2.0"

    # The host's wheelhouse copy lost the version to put back: removal stops before it uninstalls anything.
    host_copy = host.home / "wheelhouse"
    held_back = tmp_path / REPLACED_WHEEL
    shutil.move(host_copy / REPLACED_WHEEL, held_back)
    refused = _run(host, tmp_path, wheelhouse, seqr_s3_state="absent")
    assert refused.returncode != 0
    assert "Nothing was uninstalled" in refused.stdout and REPLACED in refused.stdout
    assert _venv_packages(host) == installed

    shutil.move(held_back, host_copy / REPLACED_WHEEL)
    removed = _run(host, tmp_path, wheelhouse, seqr_s3_state="absent")
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert _venv_packages(host) == packages_before
    assert host.settings.read_text() == SeqrStandinHost.SETTINGS


def test_a_new_boto3_pin_needs_no_wheel_of_the_boto3_the_role_installed(
    wheelhouse: Path, tmp_path: Path
) -> None:
    """boto3 and what came with it are the role's (removal uninstalls them): a wheelhouse for another boto3
    need not hold the versions installed now, only what was there before the role (urllib3 2.2.0)."""
    host = _host_with_urllib3_220(tmp_path / "host", wheelhouse)
    first = _run(host, tmp_path, wheelhouse)
    assert first.returncode == 0, first.stdout[-3000:]
    installed = _venv_packages(host)
    major, minor, patch = installed["boto3"].split(".")
    other = f"{major}.{minor}.{int(patch) - 1}"
    newer = tmp_path / "wheelhouse_for_another_pin"
    extras = [REPLACED, f"boto3=={other}"]
    subprocess.run(
        ["bash", str(WHEELHOUSE_SCRIPT), sys.executable, str(newer), _host_python(), PLATFORM, *extras],
        check=True,
        capture_output=True,
        timeout=600,
    )
    for name in ("boto3", "botocore"):
        (newer / f"{name}-{installed[name]}-py3-none-any.whl").unlink()

    upgraded = _run(host, tmp_path, newer, seqr_s3_boto3_version=other)

    assert upgraded.returncode == 0, upgraded.stdout[-3000:]
    assert _venv_packages(host)["boto3"] == other
