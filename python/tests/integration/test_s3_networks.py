"""S3 the way hospitals have it (issue 17), on loopback with real parts: HTTPS with a private CA, an egress
proxy, requester-pays buckets.

- TLS: the session's SeaweedFS also serves HTTPS with a certificate from a CA made for this session (in no
  system bundle). seqr's boto3 trusts it only through ``ca_bundle`` in the AWS profile (as the role writes it
  from seqr_s3_s3_ca_bundle), nginx through seqr_s3_nginx_ca_bundle; every mode reads over it. A TLS front
  presenting a certificate for another name, an expired one, or one from an unknown CA gets a clean 502 with a
  log line naming TLS, never a read without verification.
- Egress proxy: tinyproxy (Debian) between seqr and SeaweedFS; proxy and redirect modes and seqr_s3_check go
  through it (its log shows each request); with the proxy stopped a read fails cleanly.
- Requester pays: SeaweedFS does not enforce it, so a recording front shows the flag on every request seqr and
  nginx make, and in presigned URLs as a signed query parameter that SeaweedFS's signature check accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fixtures.credential_process import use_assume_role_profile
from fixtures.seaweed import free_loopback_ports
from fixtures.standin import StandinError, manage
from fixtures.tls import PrivateCA
from s3_network_support import Tinyproxy, TlsFront
from s3_track_support import RecordingS3Front, seqr_s3_config, start_private_standin, track_url
from seqr_s3 import s3
from seqr_s3.config import parse_settings
from seqr_s3.paths import S3Path

PROJECT_1 = "R0001_project_1"
RANGE = "bytes=0-99"
TLS_MESSAGE = "TLS verification of the S3 endpoint failed"


class Stacks:
    """Stand-ins (and nginx for accel) made on demand, all stopped at the end of the module."""

    def __init__(self, tmp_path_factory, s3_server, standin_data, nginx_factory, seeded_session) -> None:
        self._tmp = tmp_path_factory
        self._s3 = s3_server
        self._seed = standin_data.seed
        self._nginx = nginx_factory
        self._login = seeded_session
        self.standins: list[Any] = []

    def standin(self, mode: str, aws_config_extra: str = "", **overrides: Any) -> Any:
        workdir = self._tmp.mktemp(f"networks_{mode}")
        standin = start_private_standin(
            workdir,
            self._s3,
            self._seed,
            seqr_s3_config(mode, self._s3, **overrides),
            self._s3.reader.secret_key,
            workers=1,
            aws_config_extra=aws_config_extra,
        )
        self.standins.append(standin)
        return standin

    def entry(self, mode: str, nginx_vars: dict[str, Any] | None = None, **kwargs: Any) -> tuple[Any, Any]:
        """(the stand-in, what a browser talks to: nginx in accel mode, else the stand-in)."""
        if mode != "accel":
            standin = self.standin(mode, **kwargs)
            return standin, standin
        nginx_vars = dict(nginx_vars or {})
        endpoint = kwargs.get("ENDPOINT_URL", self._s3.endpoint_url)
        if endpoint.startswith("https://"):
            # nginx checks an upstream certificate's DNS names only, never its IP addresses: over HTTPS the
            # endpoint is a host name (as real ones are), pooled so nginx resolves it from /etc/hosts.
            endpoint = endpoint.replace("https://127.0.0.1:", "https://localhost:")
            nginx_vars["seqr_s3_nginx_s3_keepalive_servers"] = [endpoint.split("://", 1)[1]]
            kwargs["ENDPOINT_URL"] = endpoint
        standin = self.standin(mode, **kwargs)
        return standin, self._nginx(standin, seqr_s3_endpoint_url=endpoint, **nginx_vars)

    def session(self, entry: Any) -> requests.Session:
        return self._login(entry, "collaborator")

    def stop(self) -> None:
        for standin in self.standins:
            standin.stop()


@pytest.fixture(scope="module")
def stacks(
    tmp_path_factory, s3_server, s3_bucket, standin_data, nginx_factory, seeded_session
) -> Iterator[Stacks]:
    made = Stacks(tmp_path_factory, s3_server, standin_data, nginx_factory, seeded_session)
    try:
        yield made
    finally:
        made.stop()


def _read(session: requests.Session, base_url: str, s3_path: str, **kwargs: Any) -> requests.Response:
    return session.get(
        track_url(base_url, PROJECT_1, s3_path),
        headers={"Range": RANGE},
        timeout=60,
        allow_redirects=False,
        **kwargs,
    )


def _follow(response: requests.Response, **kwargs: Any) -> requests.Response:
    """What a browser does with redirect mode's 302: fetch the presigned URL itself (same Range)."""
    assert response.status_code == 302, response.text[:300]
    return requests.get(response.headers["Location"], headers={"Range": RANGE}, timeout=60, **kwargs)


def _check(standin: Any, s3_path: str) -> tuple[bool, str]:
    """``manage.py seqr_s3_check`` with the stand-in's settings and AWS profile: (passed, its output)."""
    try:
        done = manage(standin.env, "seqr_s3_check", s3_path)
    except StandinError as error:
        return False, str(error)
    return True, done.stdout + done.stderr


# --- TLS with a private CA ----------------------------------------------------------------------------------


def _ca_profile(ca: PrivateCA) -> str:
    return f"ca_bundle = {ca.certificate}\n"


@pytest.mark.parametrize("mode", ["proxy", "accel", "redirect"])
def test_every_mode_reads_over_https_trusting_the_private_ca(
    stacks: Stacks, s3_server, s3_bucket, s3_ca, mode: str
):
    bam = s3_bucket["bam"]
    standin, entry = stacks.entry(
        mode,
        nginx_vars={"seqr_s3_nginx_ca_bundle": str(s3_ca.certificate)},
        aws_config_extra=_ca_profile(s3_ca),
        ENDPOINT_URL=s3_server.https_endpoint_url,
    )
    response = _read(stacks.session(entry), entry.base_url, bam.s3_path)
    if mode == "redirect":
        assert response.headers["Location"].startswith(s3_server.https_endpoint_url + "/")
        # A browser without the CA refuses the store (no silent fallback on the client's side either) ...
        with pytest.raises(requests.exceptions.SSLError):
            _follow(response)
        # ... and one that trusts it (as the hospital's browsers do) reads.
        response = _follow(response, verify=str(s3_ca.certificate))
    assert response.status_code == 206, response.text[:300]
    assert response.content == bam.read_local()[:100]
    passed, output = _check(standin, bam.s3_path)
    assert passed, output
    assert f"OK {bam.s3_path}" in output


def test_without_the_ca_in_the_profile_https_is_refused_not_read_unverified(
    stacks: Stacks, s3_server, s3_bucket
):
    """Without ca_bundle boto3 trusts only the system's CAs, which never signed this server: no read."""
    standin = stacks.standin("proxy", ENDPOINT_URL=s3_server.https_endpoint_url)
    response = _read(stacks.session(standin), standin.base_url, s3_bucket["bam"].s3_path)
    assert response.status_code == 502
    assert TLS_MESSAGE in response.json()["error"]


@pytest.fixture(scope="module")
def tls_front(s3_server) -> Iterator[TlsFront]:
    front = TlsFront(int(s3_server.endpoint_url.rsplit(":", 1)[1]))
    try:
        yield front
    finally:
        front.close()


@pytest.fixture(scope="module")
def bad_certificates(s3_ca: PrivateCA, tmp_path_factory) -> dict[str, Any]:
    unknown_ca = PrivateCA(tmp_path_factory.mktemp("unknown_ca"), name="a CA seqr never trusted")
    return {
        "another_name": (
            s3_ca.issue("another_name", ["s3.other.example"]),
            "doesn't match 's3.other.example'",
        ),
        "expired": (s3_ca.issue("expired", ["127.0.0.1"], expired=True), "certificate has expired"),
        "unknown_ca": (
            unknown_ca.issue("unknown_ca", ["127.0.0.1"]),
            "unable to get local issuer certificate",
        ),
    }


@pytest.fixture(scope="module")
def tls_refusing(stacks: Stacks, tls_front: TlsFront, s3_ca) -> dict[str, tuple[Any, Any]]:
    """mode -> (stand-in, entry) reading through the TLS front, trusting the session's CA."""
    return {
        mode: stacks.entry(
            mode,
            nginx_vars={"seqr_s3_nginx_ca_bundle": str(s3_ca.certificate)},
            aws_config_extra=_ca_profile(s3_ca),
            ENDPOINT_URL=tls_front.url,
        )
        for mode in ("proxy", "accel")
    }


@pytest.mark.parametrize("case", ["another_name", "expired", "unknown_ca"])
def test_bad_certificates_give_a_clean_error_naming_tls(
    case: str, tls_front: TlsFront, bad_certificates, tls_refusing, stacks: Stacks, s3_bucket
) -> None:
    certificate, reason = bad_certificates[case]
    tls_front.use(certificate)
    bam = s3_bucket["bam"]

    standin, _ = tls_refusing["proxy"]
    log_before = len(standin.log_text())
    sent_before = tls_front.bytes_forwarded
    response = _read(stacks.session(standin), standin.base_url, bam.s3_path)
    assert response.status_code == 502
    error = response.json()["error"]
    assert TLS_MESSAGE in error and reason in error, error
    assert tls_front.bytes_forwarded == sent_before, "boto3 sent a request over an unverified connection"
    log = standin.log_text()[log_before:]
    assert TLS_MESSAGE in log and reason in log, log
    assert "Traceback" not in log
    passed, output = _check(standin, bam.s3_path)
    assert not passed and TLS_MESSAGE in output, output

    # accel: nginx verifies with seqr_s3_nginx_ca_bundle and gives no byte of an unverified answer. It writes
    # no error line (that would carry the presigned URL) but asks seqr again, whose HEAD names TLS.
    standin, nginx = tls_refusing["accel"]
    log_before = len(standin.log_text())
    sent_before = tls_front.bytes_forwarded
    response = _read(stacks.session(nginx), nginx.base_url, bam.s3_path)
    assert response.status_code == 502
    assert bam.read_local()[:100] not in response.content
    error = response.json()["error"]
    assert TLS_MESSAGE in error and reason in error, error
    assert tls_front.bytes_forwarded == sent_before, "nginx sent a request over an unverified connection"
    log = standin.log_text()[log_before:]
    assert TLS_MESSAGE in log and reason in log, log
    assert "Traceback" not in log and "X-Amz-" not in log


def test_a_fetch_only_nginx_cannot_make_is_logged_as_nginxs(
    stacks: Stacks, s3_server, s3_ca: PrivateCA, s3_bucket, tmp_path_factory
) -> None:
    """nginx trusts another CA than boto3 (seqr_s3_nginx_ca_bundle): nginx's fetch fails, seqr's HEAD does
    not, and seqr's log line says where to look."""
    other_ca = PrivateCA(tmp_path_factory.mktemp("nginx_only_ca"), name="a CA only nginx trusts")
    standin, nginx = stacks.entry(
        "accel",
        nginx_vars={"seqr_s3_nginx_ca_bundle": str(other_ca.certificate)},
        aws_config_extra=_ca_profile(s3_ca),
        ENDPOINT_URL=s3_server.https_endpoint_url,
    )
    log_before = len(standin.log_text())
    response = _read(stacks.session(nginx), nginx.base_url, s3_bucket["bam"].s3_path)
    assert response.status_code == 502
    assert "the read store failed while nginx read" in response.json()["error"]
    log = standin.log_text()[log_before:]
    assert "nginx's fetch of s3://" in log and "seqr_s3_nginx_ca_bundle" in log, log
    assert "X-Amz-" not in log
    passed, output = _check(standin, s3_bucket["bam"].s3_path)
    assert passed, output


# --- Egress proxy -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory) -> Iterator[Tinyproxy]:
    proxy = Tinyproxy(tmp_path_factory.mktemp("tinyproxy"), free_loopback_ports(1)[0])
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.mark.parametrize("mode", ["proxy", "redirect"])
def test_reads_go_through_the_egress_proxy(
    stacks: Stacks, tinyproxy: Tinyproxy, s3_server, s3_bucket, mode: str
):
    bam = s3_bucket["bam"]
    standin = stacks.standin(mode, EGRESS_PROXY=tinyproxy.url)
    log_before = len(tinyproxy.log_text())
    response = _read(stacks.session(standin), standin.base_url, bam.s3_path)
    if mode == "redirect":
        # seqr only signed (no network); the browser fetches from S3 itself, not through seqr's proxy.
        response = _follow(response)
    assert response.status_code == 206, response.text[:300]
    assert response.content == bam.read_local()[:100]
    through_proxy = tinyproxy.log_text()[log_before:]
    if mode == "proxy":
        assert f"GET {s3_server.endpoint_url}/seqr-reads/{bam.key}" in through_proxy, through_proxy
    passed, output = _check(standin, bam.s3_path)
    assert passed, output
    assert "egress_proxy=" + tinyproxy.url in output
    assert f"HEAD {s3_server.endpoint_url}/seqr-reads/{bam.key}" in tinyproxy.log_text()[log_before:]


def test_https_through_the_egress_proxy_is_a_verified_tunnel(
    stacks: Stacks, tinyproxy, s3_server, s3_bucket, s3_ca
):
    bam = s3_bucket["bam"]
    standin = stacks.standin(
        "proxy",
        aws_config_extra=_ca_profile(s3_ca),
        ENDPOINT_URL=s3_server.https_endpoint_url,
        EGRESS_PROXY=tinyproxy.url,
    )
    log_before = len(tinyproxy.log_text())
    response = _read(stacks.session(standin), standin.base_url, bam.s3_path)
    assert response.status_code == 206, response.text[:300]
    assert response.content == bam.read_local()[:100]
    host_port = s3_server.https_endpoint_url.split("://", 1)[1]
    assert f"CONNECT {host_port}" in tinyproxy.log_text()[log_before:]


def test_with_the_proxy_stopped_reads_fail_cleanly(stacks: Stacks, tinyproxy: Tinyproxy, s3_bucket) -> None:
    bam = s3_bucket["bam"]
    standin = stacks.standin("proxy", EGRESS_PROXY=tinyproxy.url)
    session = stacks.session(standin)
    assert _read(session, standin.base_url, bam.s3_path).status_code == 206
    tinyproxy.stop()
    try:
        log_before = len(standin.log_text())
        response = _read(session, standin.base_url, bam.s3_path)
        assert response.status_code == 502
        assert "through the egress proxy" in response.json()["error"]
        log = standin.log_text()[log_before:]
        assert "through the egress proxy" in log and "Traceback" not in log
        passed, output = _check(standin, bam.s3_path)
        assert not passed and "through the egress proxy" in output, output
    finally:
        tinyproxy.start()


def test_assuming_a_role_goes_through_the_egress_proxy_too(
    tinyproxy: Tinyproxy, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's AssumeRole call (assume_role mode) goes through the egress proxy as the S3 calls do, so a
    host whose only way out is the proxy still gets its role session. The STS's name resolves nowhere
    (.invalid): only the proxy can have seen the call (it cannot forward it, so the read fails after)."""
    sts = "http://sts.seqr-s3.invalid:8000"
    use_assume_role_profile(tmp_path, sts, monkeypatch)
    settings = parse_settings(
        {
            "MODE": "proxy",
            "PROFILE": "seqr_s3",
            "REGION": "us-east-1",
            "ENDPOINT_URL": sts,
            "EGRESS_PROXY": tinyproxy.url,
        }
    )
    log_before = len(tinyproxy.log_text())
    with pytest.raises(s3.S3Error):
        s3.head_object(settings, S3Path("seqr-reads", "x.bam"))
    assert f"POST {sts}/" in tinyproxy.log_text()[log_before:], tinyproxy.log_text()[log_before:]


# --- Requester pays -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording_front(s3_server) -> Iterator[RecordingS3Front]:
    front = RecordingS3Front(int(s3_server.endpoint_url.rsplit(":", 1)[1]))
    front.start()
    try:
        yield front
    finally:
        front.stop()


def _payer_flags(front: RecordingS3Front) -> list[str | None]:
    """Per recorded request, how it said the requester pays: 'header', 'query' or None."""
    flags = []
    for _, _, query, header in front.recorded_details():
        in_query = parse_qs(query).get("x-amz-request-payer") == ["requester"]
        flags.append("query" if in_query else ("header" if header == "requester" else None))
    return flags


@pytest.mark.parametrize("requester_pays", [True, False])
@pytest.mark.parametrize("mode", ["proxy", "accel", "redirect"])
def test_every_request_says_the_requester_pays(
    stacks: Stacks, recording_front: RecordingS3Front, s3_bucket, mode: str, requester_pays: bool
) -> None:
    bam = s3_bucket["bam"]
    standin, entry = stacks.entry(mode, ENDPOINT_URL=recording_front.url, REQUESTER_PAYS=requester_pays)
    session = stacks.session(entry)
    recording_front.reset()
    response = _read(session, entry.base_url, bam.s3_path)
    if mode == "redirect":
        location = response.headers["Location"]
        query = parse_qs(urlsplit(location).query)
        assert (query.get("x-amz-request-payer") == ["requester"]) is requester_pays
        # Signed in the query, not as a header a browser would have to send.
        assert query["X-Amz-SignedHeaders"] == ["host"]
        response = _follow(response)
    # SeaweedFS checked the signature (query parameter included) and answered.
    assert response.status_code == 206, response.text[:300]
    assert response.content == bam.read_local()[:100]
    passed, output = _check(standin, bam.s3_path)
    assert passed, output
    flags = _payer_flags(recording_front)
    assert flags, "S3 saw no request"
    if requester_pays:
        assert None not in flags, recording_front.recorded_details()
        if mode in ("accel", "redirect"):
            assert "query" in flags, "the presigned URL carries it"
    else:
        assert set(flags) == {None}
