"""Prints how to reach what `make demo` built: the seqr URL, the login step, a curl line for a BAM range.

The login is a throwaway user of a throwaway container, made by prepare (scenario_data.py); printing its
password is the point of a demo. The S3 keys are never printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote


def container_address(name: str) -> str:
    """The container's address on podman's network (the controller reaches it directly)."""
    result = subprocess.run(
        ["podman", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        sys.exit(f"demo: container {name!r} is not running ({result.stderr.strip()}); run `make demo` first")
    return result.stdout.strip()


def main() -> int:
    """Print the URL, the login and the range request, ready to paste."""
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if not ephemeral:
        sys.exit("demo: MOLECULE_EPHEMERAL_DIRECTORY is not set (run through `make demo`)")
    state_dir = Path(ephemeral) / "scenario"
    manifest = json.loads((state_dir / "manifest.json").read_text())
    password = (state_dir / "seqr_password").read_text().strip()
    address = container_address("seqr")
    base = f"http://{address}"
    bam_uri = manifest["objects"]["bam"]["uri"]
    track_url = f"{base}/api/project/{manifest['project']}/igv_track/{quote(bam_uri, safe='')}"
    login_body = json.dumps({"email": manifest["user_email"], "password": password})
    print(
        f"""
seqr (stand-in) with seqr_s3 applied, reads served from Ceph RADOS Gateway on the `s3` container:

  open:   {base}/
  login:  {manifest["user_email"]} / {password}

Log in and fetch the first 64 KiB of a BAM from S3 through seqr (expect 206 and Content-Range .../SIZE):

  jar=$(mktemp)
  curl -s -c "$jar" -o /dev/null {base}/
  curl -s -b "$jar" -c "$jar" -H "X-CSRFToken: $(awk '$6 == "csrf_token" {{print $7}}' "$jar")" \\
       -H 'Content-Type: application/json' -d '{login_body}' {base}/api/login
  curl -s -b "$jar" -r 0-65535 -D - -o /tmp/range.bin '{track_url}'

Tear down: make demo-destroy
"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
