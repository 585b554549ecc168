"""The collection as an operator gets it: built by scripts/build-collection.sh (`make collection`), installed
with `ansible-galaxy collection install` into an empty folder, and used from there with no help from this
checkout (its own ansible.cfg, an empty roles path, the working directory outside the repository).
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib
from role_play import write_package_play
from role_render import REPO_ROOT, ROLE_DIR, changed_count, make_seqr_host, nginx_test, render_template

VERSION = tomllib.loads((REPO_ROOT / "python" / "pyproject.toml").read_text())["project"]["version"]
BIN = Path(sys.executable).parent
WHEEL = f"seqr_s3-{VERSION}-py3-none-any.whl"


def _run(command: list[str], timeout: float = 300, **options: Any) -> subprocess.CompletedProcess:
    """A command's outcome, its output as text for the test's assertions (no exception on failure)."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **options)


def _ansible(installed: dict, tool: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """An Ansible tool run from the scratch folder with the environment that knows only the installed copy."""
    return _run([str(BIN / tool), *args], timeout, cwd=installed["root"], env=installed["env"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The built artifact, the collection installed from it, and an environment that knows only that copy."""
    root = tmp_path_factory.mktemp("collection")
    built = _run(
        ["bash", str(REPO_ROOT / "scripts" / "build-collection.sh"), sys.executable, str(root / "dist")], 600
    )
    assert built.returncode == 0, built.stderr[-3000:]
    artifact = Path(built.stdout.strip().splitlines()[-1].split(" ", 1)[1])
    (root / "ansible.cfg").write_text("[defaults]\ninterpreter_python = /usr/bin/python3\n")
    (root / "roles").mkdir()
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(root / "collections"),
        "ANSIBLE_ROLES_PATH": str(root / "roles"),
        "ANSIBLE_NOCOLOR": "1",
    }
    collection = root / "collections" / "ansible_collections" / "seqr_s3" / "seqr_s3"
    installed = {"root": root, "artifact": artifact, "collection": collection, "env": env}
    install = _ansible(
        installed, "ansible-galaxy", "collection", "install", str(artifact), "-p", str(root / "collections")
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return installed


def test_the_artifact_is_named_and_versioned_like_the_package(installed: dict) -> None:
    assert installed["artifact"].name == f"seqr_s3-seqr_s3-{VERSION}.tar.gz"
    manifest = json.loads((installed["collection"] / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("seqr_s3", "seqr_s3", VERSION)
    # CHANGELOG.md's newest release is this version.
    releases = [
        line for line in (REPO_ROOT / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")
    ]
    assert releases[0] == "## Unreleased" and releases[1].startswith(f"## {VERSION} ")


def test_the_installed_role_is_self_contained_and_carries_the_wheel(installed: dict) -> None:
    collection = installed["collection"]
    role = collection / "roles" / "seqr_s3"
    links = [path for path in collection.rglob("*") if path.is_symlink()]
    assert not links, f"links in the installed collection: {links}"
    # Ansible loads no plugins from a role inside a collection: the filters live in the collection's plugins.
    assert (collection / "plugins" / "filter" / "seqr_s3_filters.py").is_file()
    assert not (role / "filter_plugins").exists()
    bundled = role / "files" / WHEEL
    assert bundled.read_bytes() == (REPO_ROOT / "dist" / WHEEL).read_bytes()
    defaults = (role / "defaults" / "main.yml").read_text()
    assert f'seqr_s3_package_wheel: "{{{{ role_path }}}}/files/{WHEEL}"' in defaults
    assert {path.name for path in (collection / "playbooks").iterdir()} == {"site.yml", "remove.yml"}
    # The build worked on a staged copy: the working tree's role has no wheel and still an empty default.
    assert not list(ROLE_DIR.rglob("*.whl"))
    assert 'seqr_s3_package_wheel: ""' in (ROLE_DIR / "defaults" / "main.yml").read_text()


@pytest.mark.parametrize("playbook", ["site", "remove"])
def test_the_playbooks_pass_a_syntax_check_by_their_fqcn(installed: dict, playbook: str) -> None:
    (installed["root"] / "hosts.yml").write_text("seqr:\n  hosts:\n    seqr1:\n")
    checked = _ansible(
        installed, "ansible-playbook", "-i", "hosts.yml", "--syntax-check", f"seqr_s3.seqr_s3.{playbook}"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert str(installed["collection"] / "playbooks" / f"{playbook}.yml") in checked.stdout


def test_the_installed_site_playbook_builds_no_wheel(installed: dict) -> None:
    """From the collection there is no python/ to build from: site.yml's controller play must leave the role
    its bundled wheel (an inventory without seqr hosts runs just that play)."""
    (installed["root"] / "no_seqr_hosts.yml").write_text("all:\n  hosts: {}\n")
    ran = _ansible(installed, "ansible-playbook", "-i", "no_seqr_hosts.yml", "seqr_s3.seqr_s3.site")
    assert ran.returncode == 0, ran.stdout[-3000:]
    assert "skipping: [localhost]" in ran.stdout.split("Build dist/")[1].split("TASK")[0]


def test_the_installed_role_renders_a_site_nginx_accepts(installed: dict, tmp_path: Path) -> None:
    role = installed["collection"] / "roles" / "seqr_s3"
    site = render_template(
        "nginx_site.conf.j2",
        {"seqr_s3_nginx_resolvers": ["127.0.0.53"], "role_path": str(role)},
        role_dir=role,
    )
    checked = nginx_test(site, tmp_path)
    assert checked.returncode == 0, f"nginx -t failed:\n{checked.stderr}"


def test_the_installed_role_installs_the_wheel_it_carries(installed: dict, tmp_path: Path) -> None:
    """No seqr_s3_package_wheel given: the role from the collection installs its own wheel, says its version,
    and a second run changes nothing."""
    host = make_seqr_host(tmp_path / "host", getpass.getuser())
    role = installed["collection"] / "roles" / "seqr_s3"
    playbook = write_package_play(tmp_path, role, "seqr_s3.seqr_s3.seqr_s3")

    def run() -> subprocess.CompletedProcess:
        return _ansible(installed, "ansible-playbook", str(playbook), "-e", json.dumps(host), timeout=600)

    first = run()
    assert first.returncode == 0, first.stdout[-3000:]
    assert f"seqr_s3 {VERSION} in {host['seqr_s3_venv']}" in first.stdout
    assert (Path(host["seqr_s3_home"]) / "wheels" / WHEEL).is_file()
    second = run()
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second.stdout) == 0, second.stdout[-3000:]
