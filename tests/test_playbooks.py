"""The project's playbooks hold no dead results: whatever a task registers, another task reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

PLAYBOOKS = sorted((Path(__file__).resolve().parents[1] / "playbooks").glob("*.yml"))


def _tasks(play: dict) -> list[dict]:
    return [task for part in ("pre_tasks", "tasks", "post_tasks") for task in play.get(part) or []]


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=[path.name for path in PLAYBOOKS])
def test_every_registered_result_is_read_by_another_task(playbook: Path) -> None:
    tasks = [task for play in yaml.safe_load(playbook.read_text()) for task in _tasks(play)]
    unread = [
        (task["name"], task["register"])
        for task in tasks
        if "register" in task
        and not any(task["register"] in yaml.safe_dump(other) for other in tasks if other is not task)
    ]
    assert not unread, f"{playbook.name}: results nobody reads (drop the register or the task): {unread}"
