"""Prints how to reach what `make demo` built: the IGV page's URL, the login, the tracks, a curl line.

The login is a throwaway user of a throwaway container, made by prepare (scenario_data.py); printing its
password is the point of a demo. The S3 keys are never printed. verify's demo test
(tests/test_55_demo_page.py) takes the URL and the login from ``demo_access``, so what it opens and what this
prints cannot drift apart.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from scenario_data import IGV_LOCUS, IGV_PAGE_INDIVIDUALS, SEQR_IGV_VERSION, container_address

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "igv"))
# The page's URL as the browser tests build it.
from igv_css_support import igv_reads_page_url


@dataclass(frozen=True)
class DemoAccess:
    """What a person needs after `make demo`: where to go, how to log in, what igv.js should show."""

    base_url: str
    page_url: str
    email: str
    password: str
    # (track name igv.js shows, format, s3:// path) per track of the page, in page order.
    tracks: tuple[tuple[str, str, str], ...]
    bam_track_url: str


def demo_access(state_dir: Path, container: str = "seqr") -> DemoAccess:
    """Read prepare's manifest and the demo password, and ask podman for the seqr container's address.

    Raises RuntimeError, saying what to run, when the scenario was not prepared or the container is not up.
    """
    if not (state_dir / "manifest.json").is_file():
        raise RuntimeError(f"nothing prepared in {state_dir}; run `make demo` first")
    manifest = json.loads((state_dir / "manifest.json").read_text())
    password = (state_dir / "seqr_password").read_text().strip()
    try:
        base = f"http://{container_address(container)}"
    except RuntimeError as error:
        raise RuntimeError(f"{error}; run `make demo` first") from error
    project = manifest["project"]
    objects = manifest["objects"]
    bam_uri = objects["bam"]["uri"]
    return DemoAccess(
        base_url=base,
        page_url=igv_reads_page_url(base, project, IGV_PAGE_INDIVIDUALS, IGV_LOCUS),
        email=manifest["user_email"],
        password=password,
        tracks=(
            (IGV_PAGE_INDIVIDUALS[0], "BAM", bam_uri),
            (IGV_PAGE_INDIVIDUALS[1], "CRAM", objects["cram"]["uri"]),
        ),
        bam_track_url=f"{base}/api/project/{project}/igv_track/{quote(bam_uri, safe='')}",
    )


def demo_text(access: DemoAccess) -> str:
    """The text `make demo` ends with."""
    tracks = "\n".join(f"    {name}  {kind:<4}  {uri}" for name, kind, uri in access.tracks)
    login_body = json.dumps({"email": access.email, "password": access.password})
    base = access.base_url
    return f"""
seqr (stand-in) with seqr_s3 applied, reads served from Ceph RADOS Gateway on the `s3` container.

Open this page in a browser on this machine and log in (it sends you to the login page first):

  page:   {access.page_url}
  login:  {access.email} / {access.password}

igv.js {SEQR_IGV_VERSION} (from the site's /static/, as seqr serves it) then shows reads at {IGV_LOCUS} on two
tracks, each read from S3 through seqr's IGV API:

{tracks}

Or log in with curl and fetch the first 64 KiB of the BAM (expect 206 and Content-Range .../SIZE):

  jar=$(mktemp)
  curl -s -c "$jar" -o /dev/null {base}/
  curl -s -b "$jar" -c "$jar" -H "X-CSRFToken: $(awk '$6 == "csrf_token" {{print $7}}' "$jar")" \\
       -H 'Content-Type: application/json' -d '{login_body}' {base}/api/login
  curl -s -b "$jar" -r 0-65535 -D - -o /tmp/range.bin '{access.bam_track_url}'

Tear down: make demo-destroy
"""


def main() -> int:
    """Print the page, the login, the tracks and the range request, ready to paste."""
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if not ephemeral:
        sys.exit("demo: MOLECULE_EPHEMERAL_DIRECTORY is not set (run through `make demo`)")
    try:
        access = demo_access(Path(ephemeral) / "scenario")
    except RuntimeError as error:
        sys.exit(f"demo: {error}")
    print(demo_text(access))
    return 0


if __name__ == "__main__":
    sys.exit(main())
