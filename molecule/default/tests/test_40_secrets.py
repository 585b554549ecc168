"""The S3 secret key appears in exactly one place: the seqr user's credentials file.

Runs after the other modules, so the output of converge, idempotence and every role run of verify has been
logged (molecule.yml sends all Ansible output of the scenario to ANSIBLE_LOG_PATH).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import SEQR_CONTAINER, Scenario

CREDENTIALS = "/home/seqr/.aws/credentials"
# Every folder that holds configuration, code, logs or state; /proc, /sys and /dev are not files.
SCANNED = ["/etc", "/seqr", "/opt", "/home", "/root", "/var", "/tmp", "/srv", "/usr/local", "/run"]


def test_no_secret_in_ansible_output(scenario: Scenario) -> None:
    log = Path(os.environ["ANSIBLE_LOG_PATH"])
    text = log.read_text(errors="replace")
    assert "seqr_s3" in text, "the Ansible log does not hold the role's runs: nothing was checked"
    assert scenario.secret_key() not in text


def test_secret_only_in_the_credentials_file(scenario: Scenario) -> None:
    # The secret goes to grep on stdin, so it is neither on a command line nor in a file on the host.
    result = subprocess.run(
        ["podman", "exec", "-i", SEQR_CONTAINER, "grep", "-rlsF", "--devices=skip", "-f", "-", *SCANNED],
        input=scenario.secret_key() + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    holders = sorted(set(result.stdout.split()))
    assert holders == [CREDENTIALS]
