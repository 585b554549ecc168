"""Prints how to reach what `make demo` built: the seqr URL, the login step, a curl line for a BAM range.

The login is a throwaway user of a throwaway container, made by prepare (scenario_data.py); printing its
password is the point of a demo. The S3 keys are never printed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

from scenario_data import container_address


def main() -> int:
    """Print the URL, the login and the range request, ready to paste."""
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if not ephemeral:
        sys.exit("demo: MOLECULE_EPHEMERAL_DIRECTORY is not set (run through `make demo`)")
    state_dir = Path(ephemeral) / "scenario"
    if not (state_dir / "manifest.json").is_file():
        sys.exit(f"demo: nothing prepared in {state_dir}; run `make demo` first")
    manifest = json.loads((state_dir / "manifest.json").read_text())
    password = (state_dir / "seqr_password").read_text().strip()
    try:
        address = container_address("seqr")
    except RuntimeError as error:
        sys.exit(f"demo: {error}; run `make demo` first")
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
