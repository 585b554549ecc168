"""molecule/real_seqr/prepare.yml reads two things from the seqr checkout before it builds seqr's venv.

``seqr_builds_psycopg2`` (gcc and the libpq and Python headers go on the host) and ``seqr_test_pins`` (what
seqr's own IGV tests import, at the checkout's pins) are evaluated here by ansible-playbook, exactly as
prepare.yml writes them, against requirements files shaped like seqr's at the commits the scenario is run
against (their lines are facts copied from those commits, comments included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml
from role_render import REPO_ROOT, run_playbook

PREPARE = REPO_ROOT / "molecule" / "real_seqr" / "prepare.yml"
READ_VARS = ("seqr_builds_psycopg2", "seqr_test_pins")

# requirements.txt: the database driver line of each seqr shape.
PSYCOPG2_2021 = (
    "Django==3.1.14                  # core server-side framework\n"
    "psycopg2==2.8.4                  # postgres database access\n"
)
PSYCOPG2_2023 = (
    "django==3.2.19\n    # via\n    #   -r requirements.in\npsycopg2==2.9.5\n    # via -r requirements.in\n"
)
PSYCOPG3_2024 = "django==4.2.15\npsycopg==3.2.1\n    # via -r requirements.in\n"
PSYCOPG2_BINARY = "django==3.2\npsycopg2-binary==2.9.9\n"

# requirements-dev.txt: 2021 (a bare mock, comments after pins) and 2023 on (pip-compile output).
DEV_2021 = (
    "coverage==5.1\n"
    "mock                                            # mock objects for unit tests\n"
    "responses==0.10.15                               # mock HTTP responses for unit tests\n"
    "urllib3-mock==0.3.3                             # mock urllib3 for tests\n"
)
PINS_2023 = [
    "mock==5.0.1",
    "responses==0.22.0",
    "toml==0.10.2",
    "types-toml==0.10.8.5",
    "urllib3-mock==0.3.3",
]
DEV_2023 = (
    "mock==5.0.1\n    # via -r requirements-dev.in\npackaging==23.0\n"
    "responses==0.22.0\n    # via -r requirements-dev.in\n"
    "toml==0.10.2\n    # via responses\ntomli==2.0.1\ntypes-toml==0.10.8.5\n    # via responses\n"
    "urllib3==1.26.14\nurllib3-mock==0.3.3\n"
)

PLAY = """\
- name: Evaluate prepare.yml's checkout-derived variables
  hosts: localhost
  connection: local
  gather_facts: false
  vars: {variables}
  tasks:
    - name: Write them out
      ansible.builtin.copy:
        dest: "{{{{ out }}}}"
        content: "{{{{ {{'builds': seqr_builds_psycopg2 | bool, 'pins': seqr_test_pins}} | to_json }}}}"
        mode: "0600"
"""


def prepare_vars() -> dict[str, Any]:
    plays = yaml.safe_load(PREPARE.read_text(encoding="utf-8"))
    (seqr_play,) = [play for play in plays if play.get("hosts") == "seqr"]
    return {name: seqr_play["vars"][name] for name in READ_VARS}


def evaluate(tmp_path: Path, requirements: str, dev: Optional[str]) -> dict[str, Any]:
    source = tmp_path / "seqr"
    source.mkdir()
    (source / "requirements.txt").write_text(requirements, encoding="utf-8")
    if dev is not None:
        (source / "requirements-dev.txt").write_text(dev, encoding="utf-8")
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY.format(variables=json.dumps(prepare_vars())), encoding="utf-8")
    out = tmp_path / "out.json"
    result = run_playbook(playbook, {"real_seqr_source": str(source), "out": str(out)}, "-i", "localhost,")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("requirements", "dev", "builds", "pins"),
    [
        (PSYCOPG2_2021, DEV_2021, True, ["mock", "responses==0.10.15", "urllib3-mock==0.3.3"]),
        (PSYCOPG2_2023, DEV_2023, True, PINS_2023),
        (PSYCOPG3_2024, DEV_2023, False, PINS_2023),
        (PSYCOPG2_BINARY, None, False, ["mock", "responses", "urllib3-mock"]),
    ],
    ids=["2021-psycopg2-bare-mock", "2023-psycopg2", "2024-08-psycopg3", "psycopg2-binary-no-dev-file"],
)
def test_build_tools_and_test_pins_follow_the_checkout(
    tmp_path: Path, requirements: str, dev: Optional[str], builds: bool, pins: list[str]
) -> None:
    assert evaluate(tmp_path, requirements, dev) == {"builds": builds, "pins": pins}
