"""Controller-side data of the s3_networks scenario: the private CA and the S3 host's certificates, made per
run in the scenario's state folder (never in the repository).

    python networks_data.py tls STATE_DIR

writes STATE_DIR/tls/: ca.pem (the CA the role is given, in no system bundle), rgw.pem/.key (radosgw's
HTTPS endpoint), one certificate per broken TLS front of the S3 host, and endpoints.json, where prepare,
molecule.yml's group_vars and the tests read the names and ports from.

    python networks_data.py secrets STATE_DIR

writes radosgw's STS key (sts_key) and the keys of a second S3 user, the payer (payer_access_key,
payer_secret_key), owner-only files, unless an earlier prepare made them, and services.json: the roles to
assume and the egress proxy's name and port.

    python networks_data.py requester-pays STATE_DIR ENDPOINT

makes the reads bucket requester-pays and lets the payer read it (a bucket policy), as its owner.
"""

from __future__ import annotations

import json
import secrets
import string
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


# The requester-pays reader: not the bucket's owner (owners, and their role sessions, never pay).
PAYER_UID = "payer"
READS_BUCKET = "seqr-reads"


def _secret_file(path: Path, alphabet: str, length: int) -> bool:
    if path.exists():
        return False
    path.write_text("".join(secrets.choice(alphabet) for _ in range(length)))
    path.chmod(0o600)
    return True


# Roles of radosgw's STS (made in prepare; the S3 user may assume both): one may read the reads bucket, the
# other is denied it. A forward proxy (tinyproxy on the S3 host) for the seqr host's way out.
SERVICES = {
    "roles": {
        "reads": {"name": "seqr-reads", "effect": "Allow", "actions": ["s3:GetObject", "s3:ListBucket"]},
        "denied": {"name": "seqr-denied", "effect": "Deny", "actions": ["s3:*"]},
    },
    "bucket": READS_BUCKET,
    "source_user": "seqr",
    "payer_user": PAYER_UID,
    "egress_proxy": {"name": f"proxy.{DOMAIN}", "port": 8888},
}


def make_secrets(state_dir: Path) -> None:
    """radosgw's STS key (exactly 16 characters, it encrypts session tokens) and the payer's keys."""
    letters = string.ascii_letters + string.digits
    made = [
        _secret_file(state_dir / "sts_key", letters, 16),
        _secret_file(state_dir / "payer_access_key", string.ascii_uppercase + string.digits, 20),
        _secret_file(state_dir / "payer_secret_key", letters, 40),
    ]
    (state_dir / "services.json").write_text(json.dumps(SERVICES, indent=2) + "\n")
    print("made" if any(made) else "kept")


def make_reads_bucket_requester_pays(state_dir: Path, endpoint: str) -> None:
    """Requester pays on the reads bucket, readable by the payer. The owner's keys (every other test) and
    the owner's role sessions read on as before: S3 never charges a bucket's owner."""
    sys.path.insert(0, str(PROJECT_DIR / "molecule" / "default"))
    from scenario_data import s3_client

    client = s3_client(state_dir, endpoint)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam:::user/{PAYER_UID}"]},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{READS_BUCKET}", f"arn:aws:s3:::{READS_BUCKET}/*"],
            }
        ],
    }
    payer = client.get_bucket_request_payment(Bucket=READS_BUCKET)["Payer"]
    try:
        current = json.loads(client.get_bucket_policy(Bucket=READS_BUCKET)["Policy"])
    except client.exceptions.ClientError:
        current = None
    if payer == "Requester" and current == policy:
        print("kept")
        return
    client.put_bucket_policy(Bucket=READS_BUCKET, Policy=json.dumps(policy))
    client.put_bucket_request_payment(Bucket=READS_BUCKET, RequestPaymentConfiguration={"Payer": "Requester"})
    print("made")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "tls":
        make_certificates(Path(argv[1]) / "tls")
        return 0
    if len(argv) == 2 and argv[0] == "secrets":
        make_secrets(Path(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "requester-pays":
        make_reads_bucket_requester_pays(Path(argv[1]), argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
