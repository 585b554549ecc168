"""Run the seqr_s3 role with ansible-playbook on this machine, against a seqr stand-in in a temp folder.

The "host" is localhost (connection local). Its seqr checkout, virtualenv, the role's own folder, the nginx
site folders and the seqr user's ~/.aws all live under the test's temp folder, so a run changes nothing else
on the machine; seqr is "restarted" by a command that leaves a file behind, so a test can tell it happened.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

from role_render import DEBIAN_MODULES, ROLE_DIR, built_wheel, changed_count, run_playbook

__all__ = ["NO_INDEX", "changed_count", "run_playbook", "run_role", "write_package_play"]

# pip with no configuration file, no find-links and an index nobody answers on: any index use fails.
NO_INDEX = {
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
    "PIP_EXTRA_INDEX_URL": None,
    "PIP_FIND_LINKS": None,
}

# force_handlers as in playbooks/site.yml: a failed run still runs the handlers it notified.
PLAY = """- hosts: localhost
  connection: local
  gather_facts: false
  force_handlers: true
  tasks:
    - name: Run the seqr_s3 role
      ansible.builtin.include_role:
        name: seqr_s3
        tasks_from: {tasks}
"""


def run_role(
    variables: dict[str, Any], workdir: Path, tasks: str = "main", *extra: str
) -> subprocess.CompletedProcess:
    """Run one task file of the role (main: the whole role, as site.yml does)."""
    playbook = workdir / f"play_{tasks}.yml"
    playbook.write_text(PLAY.format(tasks=tasks))
    return run_playbook(playbook, variables, *extra)


# validate.yml, home.yml and package.yml as main.yml runs them (after loading the OS family's variables and
# the IGV style hash table): the package's installation without the rest of the role.
PACKAGE_PLAY = """- hosts: localhost
  connection: local
  gather_facts: true
  gather_subset: [min]
  tasks:
    - name: Load the OS family's variables as main.yml does
      ansible.builtin.include_vars:
        file: {role_dir}/vars/{{{{ ansible_facts['os_family'] }}}}.yml
    - name: Load the IGV style hash table as main.yml does
      ansible.builtin.include_vars:
        file: {role_dir}/vars/igv_css_hashes.yml
    - name: Validate as the role does
      ansible.builtin.include_role:
        name: {role_name}
        tasks_from: validate.yml
    - name: Create the role's folder as the role does
      ansible.builtin.include_role:
        name: {role_name}
        tasks_from: home.yml
    - name: Install the package as the role does
      ansible.builtin.include_role:
        name: {role_name}
        tasks_from: package.yml
"""


def write_package_play(workdir: Path, role_dir: Path = ROLE_DIR, role_name: str = "seqr_s3") -> Path:
    """Write the PACKAGE_PLAY playbook for the role in ``role_dir``, named ``role_name`` (the checkout's role,
    or an installed collection's by its full name); returns its path."""
    playbook = workdir / "play_package.yml"
    playbook.write_text(PACKAGE_PLAY.format(role_dir=role_dir, role_name=role_name))
    return playbook


def tree_listing(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` (relative path -> sha256 or link target); folders as 'dir'."""
    listing: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            listing[relative] = "-> " + os.readlink(path)
        elif path.is_dir():
            listing[relative] = "dir"
        else:
            listing[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return listing


class SeqrStandinHost:
    """A seqr checkout, virtualenv and nginx site folders under ``root``, and the role variables for them."""

    SETTINGS = 'INSTALLED_APPS = ["seqr"]\nDEBUG = False\n'

    def __init__(self, root: Path, with_venv: bool = False) -> None:
        self.root = root
        self.checkout = root / "seqr"
        (self.checkout / "seqr" / "views" / "apis").mkdir(parents=True)
        (self.checkout / "seqr" / "views" / "apis" / "igv_api.py").write_text("# seqr's IGV views\n")
        self.settings = self.checkout / "settings.py"
        self.settings.write_text(self.SETTINGS)
        self.venv = root / "venv"
        if with_venv:
            # A real virtualenv: the role's pip installs go here (from this machine's wheel mirror).
            venv.EnvBuilder(with_pip=True).create(self.venv)
        else:
            # Only what validation looks at: a python that lists its packages and compiles settings.
            (self.venv / "bin").mkdir(parents=True)
            (self.venv / "bin" / "python").symlink_to(sys.executable)
        self.home = root / "opt_seqr_s3"
        self.sites_available = root / "nginx" / "sites-available"
        self.sites_enabled = root / "nginx" / "sites-enabled"
        self.sites_available.mkdir(parents=True)
        self.sites_enabled.mkdir(parents=True)
        self.aws_dir = root / "seqr_user_home" / ".aws"
        self.restarted = root / "seqr-was-restarted"
        self.nginx_reloaded = root / "nginx-was-reloaded"
        self.nginx_prefix = root / "nginx_prefix"
        (self.nginx_prefix / "logs").mkdir(parents=True)
        self.nginx_conf = self.nginx_prefix / "nginx.conf"
        self.write_nginx_conf("")

    def write_nginx_conf(self, other_sites: str) -> None:
        """The whole nginx configuration the role's `nginx -t` checks: Debian-like, with sites-enabled/*."""
        self.nginx_conf.write_text(
            f"load_module {DEBIAN_MODULES};\n"
            f"pid {self.nginx_prefix}/nginx.pid;\n"
            "error_log stderr;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            f"    access_log off;\n{other_sites}"
            f"    include {self.sites_enabled}/*;\n"
            "}\n"
        )

    def variables(self, **overrides: Any) -> dict[str, Any]:
        variables: dict[str, Any] = {
            "seqr_s3_seqr_dir": str(self.checkout),
            "seqr_s3_venv": str(self.venv),
            "seqr_s3_home": str(self.home),
            "seqr_s3_package_wheel": str(built_wheel()),
            "seqr_s3_user": "root",
            "seqr_s3_service_manager": "command",
            "seqr_s3_service_restart_command": f"touch {self.restarted}",
            "seqr_s3_manage_csp": False,
            "seqr_s3_allowed_prefixes": ["s3://reads/"],
            "seqr_s3_nginx_install": False,
            "seqr_s3_nginx_resolvers": ["127.0.0.1"],
            "seqr_s3_nginx_listen_port": 18080,
            # The role's own paths on this host, pointed into the temp folder (extra vars win over role vars).
            "__seqr_s3_nginx_site_path": str(self.sites_available / "seqr"),
            "__seqr_s3_nginx_site_link": str(self.sites_enabled / "seqr"),
            "__seqr_s3_nginx_default_site_link": "",
            "__seqr_s3_nginx_user": "www-data",
            "__seqr_s3_nginx_test_argv": [
                "nginx",
                "-t",
                "-q",
                "-p",
                str(self.nginx_prefix),
                "-c",
                str(self.nginx_conf),
            ],
            "__seqr_s3_nginx_reload_argv": ["touch", str(self.nginx_reloaded)],
            "__seqr_s3_aws_dir": str(self.aws_dir),
            # Authorize once is on in accel by default: its grants' folder in the temp folder, not /run.
            "seqr_s3_nginx_authorize_cache_path": str(self.root / "run_seqr_s3_nginx_authorize"),
        }
        variables.update(overrides)
        return variables
