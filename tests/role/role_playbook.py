"""Run one task file of the seqr_s3 role on this machine with the real ansible-playbook (tests/role)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from role_render import changed_count, run_playbook

__all__ = ["changed_count", "run_role_tasks"]

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
    """Run ``tasks_from: tasks`` of the role against localhost with ``variables`` as extra vars."""
    playbook = tmp_path / f"play_{tasks}"
    playbook.write_text(PLAY.format(tasks=tasks))
    return run_playbook(playbook, variables, *extra)
