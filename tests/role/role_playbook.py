"""Run one task file of the seqr_s3 role on this machine with the real ansible-playbook (tests/role)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from role_render import REPO_ROOT

PLAY = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run one task file of the role
      ansible.builtin.include_role:
        name: seqr_s3
        tasks_from: {tasks}
"""


def run_role_tasks(tasks: str, variables: dict, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    playbook = tmp_path / f"play_{tasks}"
    playbook.write_text(PLAY.format(tasks=tasks))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    ansible = Path(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
    return subprocess.run(
        [
            str(ansible) if ansible.exists() else "ansible-playbook",
            str(playbook),
            "-e",
            json.dumps(variables),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def changed_count(output: str) -> int:
    recap = output[output.rindex("PLAY RECAP") :]
    return int(recap.split("changed=")[1].split()[0])
