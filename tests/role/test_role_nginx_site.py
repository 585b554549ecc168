"""The nginx site template, rendered with plain Jinja2 from the role defaults, checked by the real `nginx -t`.

Each variable combination a site may use must give a configuration nginx accepts, and the properties the read
path depends on (URI passed unchanged, no tcp_nopush stall, nothing of the client's request reaching S3 but
Range/If-Range) are read from the rendered text.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from role_render import DEBIAN_MODULES, ROLE_DIR, nginx_test, render_template

RESOLVER = {"seqr_s3_nginx_resolvers": ["127.0.0.53"]}


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate, so the TLS server block can be loaded by nginx -t."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=seqr.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _location_block(site: str, location: str) -> str:
    """Text of one `location … {}` block (no nested braces in the template's locations except `if`)."""
    match = re.search(rf"location {re.escape(location)} \{{(.*?)\n    \}}", site, re.S)
    assert match, f"no location {location} in the rendered site"
    return match.group(1)


def _assert_nginx_accepts(site: str, tmp_path: Path) -> None:
    checked = nginx_test(site, tmp_path)
    assert checked.returncode == 0, f"nginx -t failed:\n{checked.stderr}\n--- site ---\n{site}"


COMBINATIONS = {
    "defaults_accel_tcp_upstream": {},
    "unix_socket_upstream": {"seqr_s3_nginx_app_upstream": "unix:/run/seqr/gunicorn.sock"},
    "reads_proxy_off": {"seqr_s3_nginx_reads_proxy_enabled": False},
    "reads_proxy_to_other_server": {"seqr_s3_nginx_reads_upstream": "http://127.0.0.1:8090"},
    "proxy_mode_without_accel": {"seqr_s3_mode": "proxy"},
    "redirect_mode": {"seqr_s3_mode": "redirect"},
    "reference_and_default_server": {
        "seqr_s3_nginx_reference_root": "/seqr/reference_data/",
        "seqr_s3_nginx_default_server": True,
        "seqr_s3_nginx_server_name": "seqr.example.org seqr",
    },
    "accel_with_keepalive_pool_to_fixed_endpoint": {
        "seqr_s3_endpoint_url": "http://10.0.0.5:7480",
        "seqr_s3_nginx_s3_keepalive_servers": ["10.0.0.5:7480"],
        "seqr_s3_nginx_resolvers": [],
    },
    "ipv6_resolver_and_custom_accel_location": {
        "seqr_s3_nginx_resolvers": ["[2001:db8::53]", "10.0.0.2"],
        "seqr_s3_accel_location": "/_reads_from_s3/",
    },
}


@pytest.mark.parametrize("overrides", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_nginx_accepts_each_variable_combination(overrides: dict, tmp_path: Path) -> None:
    _assert_nginx_accepts(render_template("nginx_site.conf.j2", {**RESOLVER, **overrides}), tmp_path)


def test_nginx_accepts_tls_with_http_redirect(tls_pair: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_pair
    site = render_template(
        "nginx_site.conf.j2",
        {
            **RESOLVER,
            "seqr_s3_nginx_tls_enabled": True,
            "seqr_s3_nginx_tls_port": 8443,
            "seqr_s3_nginx_tls_certificate": str(cert),
            "seqr_s3_nginx_tls_certificate_key": str(key),
        },
    )
    _assert_nginx_accepts(site, tmp_path)
    assert "listen 8443 ssl;" in site
    assert "return 301 https://$host:8443$request_uri;" in site


def test_a_broken_value_is_caught_by_nginx(tmp_path: Path) -> None:
    # The check above can fail: nginx rejects an upstream that is not an address.
    site = render_template("nginx_site.conf.j2", {**RESOLVER, "seqr_s3_nginx_app_upstream": "not an address"})
    assert nginx_test(site, tmp_path).returncode != 0


def test_app_is_proxied_without_a_uri_part_so_encoded_slashes_survive() -> None:
    site = render_template("nginx_site.conf.j2", RESOLVER)
    assert re.search(r"^\s*proxy_pass http://seqr_s3_app;$", _location_block(site, "/"), re.M)
    assert re.search(r"^\s*proxy_pass http://seqr_s3_app;$", _location_block(site, "/reads/"), re.M)


def test_server_switches_off_the_inherited_tcp_nopush() -> None:
    assert re.search(r"^    tcp_nopush off;$", render_template("nginx_site.conf.j2", RESOLVER), re.M)


def test_accel_location_sends_s3_only_host_range_and_if_range() -> None:
    block = _location_block(render_template("nginx_site.conf.j2", RESOLVER), "^~ /_seqr_s3_internal/")
    assert "internal;" in block
    assert "proxy_pass_request_headers off;" in block
    assert "proxy_pass_request_body off;" in block
    sent = re.findall(r"proxy_set_header (\S+) (\S+);", block)
    assert sent == [
        ("Host", "$seqr_s3_signed_host"),
        ("Range", "$seqr_s3_range"),
        ("If-Range", "$http_if_range"),
        ("Connection", '""'),
    ]
    # The app's headers go into variables first (rewrite phase); proxy_pass then replaces $upstream_http_*.
    assert "set $seqr_s3_signed_url $upstream_http_x_seqr_s3_url;" in block
    assert "set $seqr_s3_signed_host $upstream_http_x_seqr_s3_host;" in block
    assert "set $seqr_s3_range $upstream_http_x_seqr_s3_range;" in block
    assert "proxy_pass $seqr_s3_signed_url;" in block
    assert "resolver 127.0.0.53 valid=30s;" in block


def test_accel_location_verifies_s3_tls_against_the_os_bundle() -> None:
    block = _location_block(render_template("nginx_site.conf.j2", RESOLVER), "^~ /_seqr_s3_internal/")
    for directive in (
        "proxy_ssl_server_name on;",
        "proxy_ssl_verify on;",
        "proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
        "proxy_http_version 1.1;",
        "proxy_buffering on;",
        "proxy_intercept_errors on;",
        "more_clear_headers 'x-amz-*' 'x-rgw-*'",
    ):
        assert directive in block


def test_accel_location_does_not_re_slice_s3_answers_with_the_raw_range() -> None:
    # seqr forwards only ranges it accepted; nginx must pass S3's 200 for an ignored one unchanged.
    block = _location_block(render_template("nginx_site.conf.j2", RESOLVER), "^~ /_seqr_s3_internal/")
    assert "proxy_force_ranges" not in block
    assert "$http_range" not in block


def test_keepalive_pool_keeps_the_signed_path_and_host() -> None:
    site = render_template(
        "nginx_site.conf.j2",
        {
            "seqr_s3_endpoint_url": "https://s3.internal:8443",
            "seqr_s3_nginx_s3_keepalive_servers": ["s3:8443"],
        },
    )
    assert re.search(r"upstream seqr_s3_store \{\s*server s3:8443;\s*keepalive 32;\s*\}", site)
    block = _location_block(site, "^~ /_seqr_s3_internal/")
    assert "proxy_pass https://seqr_s3_store$seqr_s3_signed_path;" in block
    assert "proxy_set_header Host $seqr_s3_signed_host;" in block


def test_non_accel_modes_have_no_internal_location() -> None:
    for mode in ("proxy", "redirect"):
        assert "internal;" not in render_template("nginx_site.conf.j2", {"seqr_s3_mode": mode})


def test_role_single_site_check_accepts_good_and_rejects_bad(tmp_path: Path) -> None:
    """files/nginx-test-site is what the template task's validate: runs before a site may go live."""
    script = ROLE_DIR / "files" / "nginx-test-site"
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    # `nginx -t` creates the folders a site names: the grants' folder goes into the test's own folder.
    grants = {"seqr_s3_nginx_authorize_cache_path": str(tmp_path / "grants")}
    site = render_template("nginx_site.conf.j2", {**RESOLVER, **grants})
    good.write_text(site)
    bad.write_text(site.replace("tcp_nopush off;", "tcp_nopush maybe;"))

    def check(candidate: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(script), str(candidate), "/etc/nginx/mime.types", "", DEBIAN_MODULES],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ok = check(good)
    assert ok.returncode == 0, ok.stderr
    refused = check(bad)
    assert refused.returncode != 0
    assert "tcp_nopush" in refused.stderr


def test_redhat_paths_render_with_their_ca_bundle() -> None:
    from role_render import jinja_environment, role_variables

    variables = role_variables(RESOLVER, os_family="RedHat")
    site = jinja_environment().get_template("nginx_site.conf.j2").render(variables)
    assert "proxy_ssl_trusted_certificate /etc/pki/tls/certs/ca-bundle.crt;" in site


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"seqr_s3_nginx_s3_keepalive_servers": ["s3.example.org:443"]},
        {"seqr_s3_nginx_slice_cache": True, "seqr_s3_nginx_slice_cache_path": "/var/cache/seqr_s3_nginx"},
    ],
    ids=["resolver", "keepalive-pool", "slice-cache"],
)
def test_no_block_that_fetches_a_signed_url_writes_nginx_error_lines(variables: dict) -> None:
    """nginx's error lines name the upstream URL with its query: wherever nginx fetches the presigned URL,
    error logging is off (issue 13, 5); the client's request and status stay in the access log."""
    site = render_template("nginx_site.conf.j2", {**RESOLVER, **variables})
    fetches = [
        m.start() for m in re.finditer(r"proxy_pass (\$seqr_s3_signed_url|https?://seqr_s3_store)", site)
    ]
    assert fetches, site
    for at in fetches:
        location = site[at : site.index("\n    }", at)]
        assert "error_log stderr emerg;" in location, location
