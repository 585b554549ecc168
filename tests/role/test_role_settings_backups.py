"""The settings.py block is written and removed without leaving any file in seqr's checkout; the copies kept
before a change go to the role's own folder, private to root (issue 13, item 6, fourth bullet).

roles/seqr_s3/tasks/settings.yml runs by ansible-playbook against a seqr stand-in in a temp folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from role_play import SeqrStandinHost, changed_count, run_role, tree_listing

pytestmark = pytest.mark.usefixtures("as_root")  # the role runs as root on a seqr host

IGV_HASHES = ["'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='"]


def test_install_and_removal_leave_no_file_in_the_checkout(tmp_path: Path) -> None:
    host = SeqrStandinHost(tmp_path)
    variables = host.variables(seqr_s3_igv_css_hashes=IGV_HASHES)
    made = run_role(variables, tmp_path, "home")
    assert made.returncode == 0, made.stdout
    original = tree_listing(host.checkout)

    checked = run_role(variables, tmp_path, "settings", "--check")
    assert checked.returncode == 0, checked.stdout
    assert tree_listing(host.checkout) == original
    assert list((host.home / "backup").iterdir()) == [], "check mode kept a copy"

    installed = run_role(variables, tmp_path, "settings")
    assert installed.returncode == 0, installed.stdout
    assert "# BEGIN seqr_s3 managed block" in host.settings.read_text()
    assert sorted(tree_listing(host.checkout)) == sorted(original), "a new file appeared in seqr's checkout"
    kept = host.home / "backup" / "settings.py.orig"
    assert kept.read_text() == SeqrStandinHost.SETTINGS
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.stat().st_uid == 0

    again = run_role(variables, tmp_path, "settings")
    assert changed_count(again.stdout) == 0, again.stdout

    removed = run_role({**variables, "seqr_s3_state": "absent"}, tmp_path, "settings")
    assert removed.returncode == 0, removed.stdout
    assert tree_listing(host.checkout) == original, "removal left seqr's checkout different from before"
