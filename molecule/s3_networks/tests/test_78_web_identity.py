"""web_identity against radosgw's own STS (issue 17), on the real hosts: the role writes a profile with a role
and a token file, the form EKS and other OpenID Connect setups give; botocore exchanges the token
(AssumeRoleWithWebIdentity, over HTTPS with the private CA) for a role session, and seqr reads with it.
radosgw checks each token against an issuer on the S3 host: its keys fetched over HTTPS, the signer's
thumbprint registered in prepare. A token the issuer did not sign gets no session: a clean error, no read.

A web identity session is not the bucket's owner, so the requester-pays reads bucket needs the flag
(seqr_s3_requester_pays), as a hospital's bucket shared with seqr would.
"""

from __future__ import annotations

import base64
from typing import Any

import requests
import testinfra
from conftest import (
    Scenario,
    check_passes,
    ensure_role,
    mint_token,
    read_bytes,
    read_expecting_error,
    restart_seqr,
)

# Where the token lies on the seqr host, as a pod's projected service account token does.
TOKEN_DIR = "/var/lib/seqr-s3-oidc"
TOKEN_FILE = f"{TOKEN_DIR}/token"


def write_token(seqr_host: testinfra.host.Host, token: str) -> None:
    """The token for the seqr user only (it is a credential)."""
    encoded = base64.b64encode(token.encode()).decode()
    written = seqr_host.run(
        f"install -d -o seqr -g seqr -m 0700 {TOKEN_DIR} && echo {encoded} | base64 -d > {TOKEN_FILE}"
        f" && chown seqr:seqr {TOKEN_FILE} && chmod 0600 {TOKEN_FILE}"
    )
    assert written.rc == 0, written.stderr


def web_identity(services: dict[str, Any]) -> dict[str, Any]:
    """The role's variables for web_identity with prepare's role for the issuer's tokens (proxy mode)."""
    return {
        "seqr_s3_mode": "proxy",
        "seqr_s3_aws_credentials_mode": "web_identity",
        "seqr_s3_aws_role_arn": f"arn:aws:iam:::role/{services['roles']['web']['name']}",
        "seqr_s3_aws_web_identity_token_file": TOKEN_FILE,
        # No keys: the token is the only credential (molecule.yml's static keys would be refused with it).
        "seqr_s3_aws_access_key_id": "",
        "seqr_s3_aws_secret_access_key": "",
        "seqr_s3_requester_pays": True,
    }


def issuer_key_fetches(s3_host: testinfra.host.Host) -> int:
    """How often radosgw fetched the issuer's keys (nginx's access log of the issuer)."""
    return s3_host.run("cat /var/log/nginx/oidc-issuer.log").stdout.count("GET /jwks.json ")


def test_web_identity_reads_with_a_session_for_the_issuers_token(
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    s3_host: testinfra.host.Host,
    services: dict[str, Any],
) -> None:
    write_token(seqr_host, mint_token(scenario.state_dir / "oidc"))
    fetches = issuer_key_fetches(s3_host)
    # The rollout's health check (site.yml) reads with the web identity session too.
    ensure_role(**web_identity(services))
    read_bytes(analyst, scenario, seqr_host, "proxy")
    checked = check_passes(seqr_host, scenario)
    assert "credentials=assume-role-with-web-identity" in checked, checked
    assert issuer_key_fetches(s3_host) > fetches, "radosgw never checked a token against the issuer"


def test_a_token_the_issuer_did_not_sign_gets_no_session(
    scenario: Scenario,
    analyst: requests.Session,
    seqr_host: testinfra.host.Host,
    services: dict[str, Any],
) -> None:
    ensure_role(**web_identity(services))
    write_token(seqr_host, mint_token(scenario.state_dir / "oidc", signer="foreign"))
    try:
        restart_seqr(seqr_host, analyst, scenario)
        read_expecting_error(analyst, scenario, seqr_host, 403, "the STS refused this server a role session")
    finally:
        write_token(seqr_host, mint_token(scenario.state_dir / "oidc"))
        restart_seqr(seqr_host, analyst, scenario)
    read_bytes(analyst, scenario, seqr_host, "proxy")
