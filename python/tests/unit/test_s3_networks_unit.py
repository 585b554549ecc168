"""Requester pays in presigned URLs and the TLS and proxy failures, without a server: botocore's own signer
and exception classes (python/tests/integration/test_s3_networks.py proves the same against SeaweedFS)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ProxyConnectionError, SSLError
from seqr_s3 import s3
from seqr_s3.config import parse_settings
from seqr_s3.paths import S3Path

PATH = S3Path("reads", "x.bam")


@pytest.fixture(autouse=True)
def _static_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    s3.forget_clients()
    yield
    s3.forget_clients()


def _settings(**raw: object):
    return parse_settings(
        {"MODE": "redirect", "ENDPOINT_URL": "https://rgw.example.org:8443", "REGION": "us-east-1", **raw}
    )


def test_presigned_urls_carry_the_requester_pays_flag_as_a_signed_query_parameter() -> None:
    url, host = s3.presign(_settings(REQUESTER_PAYS=True), PATH)
    query = parse_qs(urlsplit(url).query)
    assert query["x-amz-request-payer"] == ["requester"]
    # Only Host is a signed header: nginx and browsers send nothing but the URL.
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert host == "rgw.example.org:8443"
    head_url, _ = s3.presign(_settings(REQUESTER_PAYS=True), PATH, method="HEAD")
    assert parse_qs(urlsplit(head_url).query)["x-amz-request-payer"] == ["requester"]


def test_without_requester_pays_no_url_carries_the_flag() -> None:
    url, _ = s3.presign(_settings(), PATH)
    assert "x-amz-request-payer" not in url.lower()


def test_the_client_is_built_with_the_egress_proxy() -> None:
    client = s3.get_client(_settings(MODE="proxy", EGRESS_PROXY="http://proxy.internal:3128"))
    assert client.meta.config.proxies == {
        "http": "http://proxy.internal:3128",
        "https": "http://proxy.internal:3128",
    }
    assert s3.get_client(_settings()).meta.config.proxies is None


@pytest.mark.parametrize(
    ("inner", "reason"),
    [
        (
            ssl.SSLCertVerificationError(
                1,
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                "certificate has expired (_ssl.c:1006)",
            ),
            "certificate has expired",
        ),
        (ssl.CertificateError("hostname '10.0.0.5' doesn't match 'rgw.example.org'"), "doesn't match"),
        (OSError("handshake"), "TLS handshake failed"),
    ],
)
def test_tls_failures_are_a_502_naming_tls_and_the_reason_without_the_url(inner: Exception, reason: str):
    url = "https://rgw.example.org:8443/reads/x.bam?X-Amz-Signature=abc"
    mapped = s3.translate_error(SSLError(endpoint_url=url, error=inner), PATH, "read")
    assert isinstance(mapped, s3.S3Unavailable) and mapped.status == 502
    assert "TLS verification of the S3 endpoint failed" in str(mapped) and reason in str(mapped)
    assert "X-Amz-Signature" not in str(mapped) and "8443" not in str(mapped)


def test_a_proxy_that_refuses_is_named() -> None:
    error = ProxyConnectionError(proxy_url="http://proxy.internal:3128", error="refused")
    mapped = s3.translate_error(error, PATH, "read")
    assert mapped.status == 502 and "through the egress proxy" in str(mapped)


def test_the_audit_command_client_has_the_same_proxy_and_requester_pays() -> None:
    from seqr_s3.management.commands.seqr_s3_audit import _audit_client

    settings = _settings(MODE="proxy", EGRESS_PROXY="http://proxy.internal:3128", REQUESTER_PAYS=True)
    client = _audit_client(settings)
    assert client.meta.config.proxies == {
        "http": "http://proxy.internal:3128",
        "https": "http://proxy.internal:3128",
    }
    url = client.generate_presigned_url("head_object", Params={"Bucket": PATH.bucket, "Key": PATH.key})
    assert parse_qs(urlsplit(url).query)["x-amz-request-payer"] == ["requester"]
