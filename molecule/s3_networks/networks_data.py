"""Controller-side data of the s3_networks scenario: the private CA and the S3 host's certificates, made per
run in the scenario's state folder (never in the repository).

    python networks_data.py tls STATE_DIR

writes STATE_DIR/tls/: ca.pem (the CA the role is given, in no system bundle), rgw.pem/.key (radosgw's
HTTPS endpoint), one certificate per broken TLS front of the S3 host, and endpoints.json, where prepare,
molecule.yml's group_vars and the tests read the names and ports from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR / "tests"))
from fixtures.tls import PrivateCA  # noqa: E402  (the project's test certificates)

DOMAIN = "seqr-s3.test"
# radosgw's own HTTPS endpoint, with a certificate the private CA signed for this name.
RGW_NAME = f"rgw.{DOMAIN}"
RGW_TLS_PORT = 7443
# TLS fronts on the S3 host (nginx, forwarding to radosgw): each presents a certificate a client must refuse.
# name -> (port, what is wrong with its certificate)
FRONTS = {
    f"wrong-name.{DOMAIN}": (7444, "another_name"),
    f"expired.{DOMAIN}": (7445, "expired"),
    f"unknown-ca.{DOMAIN}": (7446, "unknown_ca"),
}
ANOTHER_NAME = f"another-host.{DOMAIN}"


def make_certificates(tls_dir: Path) -> None:
    """The CA and every certificate, unless an earlier prepare made them (hosts keep the CA they got)."""
    if (tls_dir / "ca.pem").exists():
        print("kept")
        return
    ca = PrivateCA(tls_dir)
    ca.issue("rgw", [RGW_NAME])
    unknown_ca = PrivateCA(tls_dir / "unknown_ca", name="a CA seqr never trusted")
    for name, (_port, fault) in FRONTS.items():
        if fault == "another_name":
            ca.issue(fault, [ANOTHER_NAME])
        elif fault == "expired":
            ca.issue(fault, [name], expired=True)
        else:
            files = unknown_ca.issue(fault, [name])
            files.certificate.rename(tls_dir / f"{fault}.pem")
            files.key.rename(tls_dir / f"{fault}.key")
    endpoints = {
        "rgw": f"{RGW_NAME}:{RGW_TLS_PORT}",
        "fronts": [{"name": name, "port": port, "fault": fault} for name, (port, fault) in FRONTS.items()],
    }
    (tls_dir / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")
    print("made")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "tls":
        make_certificates(Path(argv[1]) / "tls")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
