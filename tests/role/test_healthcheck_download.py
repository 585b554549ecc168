"""playbooks/site.yml's health check downloads the read into a private folder of its own, never to a name in
/tmp another local user could have made first (issue 13, item 6, first bullet).

The health-check tasks of site.yml (tag seqr_s3_healthcheck) run by ansible-playbook on localhost against a
small loopback server standing in for seqr behind nginx: it answers the page and a 206 range of a BAM.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from loopback_servers import serving_in_threads
from role_render import REPO_ROOT, run_playbook

pytestmark = pytest.mark.usefixtures("as_root")  # a second local user's file needs root to set up

TRACK = "/api/project/P1/igv_track/s3%3A%2F%2Freads%2Fsample.bam"
# BGZF magic, as a BAM starts; the check compares the first bytes.
READ = b"\x1f\x8b\x08\x04" + bytes(1020)


class _SeqrBehindNginx(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == TRACK:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{len(READ) - 1}/{len(READ) * 4}")
            self.send_header("Content-Length", str(len(READ)))
            self.end_headers()
            self.wfile.write(READ)
            return
        body = b"<html>seqr</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def seqr_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SeqrBehindNginx)
    with serving_in_threads(server):
        yield f"http://127.0.0.1:{server.server_address[1]}"


def _healthcheck_folders() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("seqr_s3_healthcheck")}


def test_download_goes_to_a_private_folder_not_a_fixed_name(seqr_url: str, tmp_path: Path) -> None:
    # What a local user could have left at the name the check used to write to: a file they own.
    planted = Path(tempfile.gettempdir()) / "seqr_s3_healthcheck.localhost.bin"
    planted.write_bytes(b"planted by another user\n")
    os.chown(planted, 65534, 65534)
    planted.chmod(0o666)
    before = _healthcheck_folders()
    inventory = tmp_path / "inventory.ini"
    host_line = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory.write_text(f"[seqr]\n{host_line}\n")
    try:
        checked = run_playbook(
            REPO_ROOT / "playbooks" / "site.yml",
            {
                "ansible_become": False,
                "seqr_s3_healthcheck_base_url": seqr_url,
                "seqr_s3_healthcheck_track_path": TRACK,
            },
            "-i",
            str(inventory),
            "--tags",
            "seqr_s3_healthcheck",
        )
        assert checked.returncode == 0, checked.stdout[-3000:]
        assert "Make a private folder for the health check's download" in checked.stdout
        assert planted.read_bytes() == b"planted by another user\n", "the check wrote through the file"
        assert planted.stat().st_uid == 65534
        assert _healthcheck_folders() == before, "the check left its download behind"
    finally:
        planted.unlink(missing_ok=True)
