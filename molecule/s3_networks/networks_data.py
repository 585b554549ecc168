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

    python networks_data.py oidc STATE_DIR

writes STATE_DIR/oidc/: an OpenID Connect issuer for web_identity, unless an earlier prepare made it. Its
discovery document and JWKS (the signing key's self-signed certificate as x5c, which radosgw checks against
the thumbprint), the signing key and a foreign one (tokens radosgw must refuse), and the issuer's HTTPS
certificate from an identity provider's own CA (tls/). Tests mint tokens with mint_token().

    python networks_data.py oidc-provider STATE_DIR ENDPOINT

registers the issuer with radosgw's IAM API (CreateOpenIDConnectProvider: URL, audience, thumbprint), as the
S3 user, unless it is registered with that thumbprint.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import string
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR / "tests"))
sys.path.insert(0, str(PROJECT_DIR / "molecule" / "default"))
from fixtures.tls import PrivateCA, write_private_key  # noqa: E402  (the project's test certificates)
from scenario_data import s3_client  # noqa: E402  (the scenario user's boto3 clients)

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


# The OpenID Connect issuer on the S3 host (nginx, HTTPS) whose tokens radosgw exchanges for role sessions.
OIDC_NAME = f"oidc.{DOMAIN}"
OIDC_PORT = 8443
OIDC_ISSUER = f"https://{OIDC_NAME}:{OIDC_PORT}"
OIDC_AUDIENCE = "seqr-s3"
OIDC_SUBJECT = "system:serviceaccount:seqr:seqr"
OIDC_KEY_ID = "seqr-s3-test-signer"
# radosgw names a provider by its issuer URL without the scheme.
OIDC_PROVIDER_ARN = f"arn:aws:iam:::oidc-provider/{OIDC_NAME}:{OIDC_PORT}"

SOURCE_USER = "seqr"
READ_ACTIONS = ["s3:GetObject", "s3:ListBucket"]
ASSUMED_BY_THE_S3_USER = {
    "Principal": {"AWS": [f"arn:aws:iam:::user/{SOURCE_USER}"]},
    "Action": ["sts:AssumeRole"],
}
# Roles of radosgw's STS (made in prepare): the S3 user may assume the first two (one may read the reads
# bucket, the other is denied it); the third is for tokens of the OIDC issuer with its audience. A forward
# proxy (tinyproxy on the S3 host) for the seqr host's way out.
SERVICES = {
    "roles": {
        "reads": {
            "name": "seqr-reads",
            "effect": "Allow",
            "actions": READ_ACTIONS,
            "trust": ASSUMED_BY_THE_S3_USER,
        },
        "denied": {
            "name": "seqr-denied",
            "effect": "Deny",
            "actions": ["s3:*"],
            "trust": ASSUMED_BY_THE_S3_USER,
        },
        "web": {
            "name": "seqr-web",
            "effect": "Allow",
            "actions": READ_ACTIONS,
            "trust": {
                "Principal": {"Federated": [OIDC_PROVIDER_ARN]},
                "Action": ["sts:AssumeRoleWithWebIdentity"],
                "Condition": {"StringEquals": {f"{OIDC_NAME}:{OIDC_PORT}:app_id": OIDC_AUDIENCE}},
            },
        },
    },
    "bucket": READS_BUCKET,
    "source_user": SOURCE_USER,
    "payer_user": PAYER_UID,
    "egress_proxy": {"name": f"proxy.{DOMAIN}", "port": 8888},
    "oidc": {"name": OIDC_NAME, "port": OIDC_PORT, "issuer": OIDC_ISSUER, "audience": OIDC_AUDIENCE},
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


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_oidc_issuer(oidc_dir: Path) -> None:
    """The issuer's files (see the module's doc), unless an earlier prepare made them."""
    if (oidc_dir / "jwks.json").exists():
        print("kept")
        return
    PrivateCA(oidc_dir / "tls", name="seqr_s3 test identity provider CA").issue("oidc", [OIDC_NAME])
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_private_key(signer, oidc_dir / "signer.key")
    write_private_key(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), oidc_dir / "foreign.key"
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seqr_s3 test token signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    signer_certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(signer, hashes.SHA256())
    )
    der = signer_certificate.public_bytes(serialization.Encoding.DER)
    numbers = signer.public_key().public_numbers()
    key = {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": OIDC_KEY_ID,
        "n": _base64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": _base64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        "x5c": [base64.b64encode(der).decode()],
    }
    (oidc_dir / "jwks.json").write_text(json.dumps({"keys": [key]}) + "\n")
    discovery = {
        "issuer": OIDC_ISSUER,
        "jwks_uri": f"{OIDC_ISSUER}/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    (oidc_dir / "openid-configuration").write_text(json.dumps(discovery, indent=2) + "\n")
    (oidc_dir / "thumbprint").write_text(hashlib.sha1(der).hexdigest() + "\n")  # noqa: S324 (what IAM asks for)
    print("made")


def mint_token(oidc_dir: Path, signer: str = "signer", lifetime: int = 3 * 3600) -> str:
    """A web identity token (a JWT, RS256) from the issuer, as EKS writes one into a pod: signed with the
    issuer's key, or with ``signer="foreign"`` a key the issuer never published."""
    key = serialization.load_pem_private_key((oidc_dir / f"{signer}.key").read_bytes(), password=None)
    issued = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": OIDC_KEY_ID}
    claims = {
        "iss": OIDC_ISSUER,
        "sub": OIDC_SUBJECT,
        "aud": OIDC_AUDIENCE,
        "iat": issued,
        "exp": issued + lifetime,
    }
    signed = ".".join(_base64url(json.dumps(part).encode()) for part in (header, claims))
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_base64url(signature)}"


def register_oidc_provider(state_dir: Path, endpoint: str) -> None:
    """The issuer as an OpenID Connect provider of radosgw (its IAM API), with the signer's thumbprint."""
    thumbprint = (state_dir / "oidc" / "thumbprint").read_text().strip()
    iam = s3_client(state_dir, endpoint, service="iam")
    try:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=OIDC_PROVIDER_ARN)
    except iam.exceptions.ClientError:
        provider = None  # radosgw answers a provider it does not have with an error without a code
    if provider is not None:
        if provider.get("ThumbprintList") == [thumbprint]:
            print("kept")
            return
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=OIDC_PROVIDER_ARN)
    iam.create_open_id_connect_provider(
        Url=OIDC_ISSUER, ClientIDList=[OIDC_AUDIENCE], ThumbprintList=[thumbprint]
    )
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
    if len(argv) == 2 and argv[0] == "oidc":
        make_oidc_issuer(Path(argv[1]) / "oidc")
        return 0
    if len(argv) == 3 and argv[0] == "oidc-provider":
        register_oidc_provider(Path(argv[1]), argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
