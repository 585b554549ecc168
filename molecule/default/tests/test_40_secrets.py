"""The S3 secret key appears in exactly one place: the seqr user's credentials file. The per-host secret nginx
sends seqr is private to root and seqr's group, never in Ansible's output, and a direct caller of gunicorn
gets no presigned URL.

Runs after the other modules, so the output of converge, idempotence and every role run of verify has been
logged (molecule.yml sends all Ansible output of the scenario to ANSIBLE_LOG_PATH).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests
import testinfra
from conftest import REQUEST_TIMEOUT, SEQR_CONTAINER, Scenario, ensure_role

CREDENTIALS = "/home/seqr/.aws/credentials"
ACCEL_SECRET = "/opt/seqr_s3/secret/accel_secret"
NGINX_ACCEL_SECRET = "/opt/seqr_s3/secret/nginx_accel_secret.conf"
GUNICORN_SOCKET = "/run/seqr/gunicorn.sock"
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


def test_accel_secret_files_are_private(seqr_host: testinfra.host.Host) -> None:
    secret = seqr_host.file(ACCEL_SECRET)
    assert (secret.user, secret.group, secret.mode) == ("root", "seqr", 0o640)
    nginx_copy = seqr_host.file(NGINX_ACCEL_SECRET)
    assert (nginx_copy.user, nginx_copy.group, nginx_copy.mode) == ("root", "root", 0o600)
    assert secret.content_string.strip() in nginx_copy.content_string
    assert (
        secret.content_string.strip() not in seqr_host.file("/etc/nginx/sites-available/seqr").content_string
    )


def test_no_accel_secret_in_ansible_output(seqr_host: testinfra.host.Host) -> None:
    secret = seqr_host.file(ACCEL_SECRET).content_string.strip()
    assert len(secret) >= 32
    assert secret not in Path(os.environ["ANSIBLE_LOG_PATH"]).read_text(errors="replace")


def test_gunicorn_hands_no_presigned_url_to_a_direct_caller(
    scenario: Scenario, analyst: requests.Session, seqr_host: testinfra.host.Host
) -> None:
    """Straight to gunicorn's socket (as anything on the host could, or anyone where seqr binds 0.0.0.0:8000):
    with or without a forged secret header, the bytes are streamed and no URL is handed out."""
    ensure_role(seqr_s3_mode="accel")
    path = scenario.track_url(scenario.objects["bam"]["uri"]).removeprefix(scenario.seqr_url)
    cookie = "; ".join(f"{name}={value}" for name, value in analyst.cookies.items())
    for forged in ("", 'header = "X-Seqr-S3-Accel-Secret: ' + "a" * 64 + '"\n'):
        # curl reads the cookie from stdin (-K -), so it is not on a command line on the host.
        config = f'header = "Cookie: {cookie}"\nheader = "Range: bytes=0-99"\n{forged}'
        answer = subprocess.run(
            [
                "podman",
                "exec",
                "-i",
                SEQR_CONTAINER,
                "curl",
                "-sS",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-K",
                "-",
                "--unix-socket",
                GUNICORN_SOCKET,
                f"http://localhost{path}",
            ],
            input=config,
            capture_output=True,
            text=True,
            check=False,
            timeout=REQUEST_TIMEOUT,
        )
        assert answer.returncode == 0, answer.stderr
        headers = answer.stdout.lower()
        assert headers.startswith("http/1.1 206"), headers
        assert "x-accel-redirect" not in headers and "x-seqr-s3-url" not in headers, headers
    # Through nginx the same read is accel's (nginx's internal location adds its sandbox policy).
    through_nginx = analyst.get(
        scenario.track_url(scenario.objects["bam"]["uri"]),
        headers={"Range": "bytes=0-99"},
        timeout=REQUEST_TIMEOUT,
    )
    assert through_nginx.status_code == 206
    assert through_nginx.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
