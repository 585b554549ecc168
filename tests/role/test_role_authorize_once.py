"""The role's authorize-once option (seqr_s3_nginx_authorize_ttl): what the site renders, the real `nginx -t`,
and the settings the role refuses. Its behaviour through nginx, gunicorn and SeaweedFS:
python/tests/integration/test_authorize_once.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from role_play import run_role
from role_render import built_wheel, nginx_test, render_template

ON = {"seqr_s3_nginx_authorize_ttl": 5, "seqr_s3_nginx_session_cookie_name": "seqr_session_x"}


def directives(site: str) -> list[str]:
    return [line.strip() for line in site.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_ttl_zero_and_other_modes_render_no_authorization(mode: str) -> None:
    """0 is the site without the option, line for line; proxy and redirect modes never get it."""
    plain = render_template("nginx_site.conf.j2", {"seqr_s3_mode": mode})
    zero_ttl = {**ON, "seqr_s3_mode": mode, "seqr_s3_nginx_authorize_ttl": 0}
    zero = render_template("nginx_site.conf.j2", zero_ttl)
    assert zero == plain
    assert "auth_request" not in plain and "X-Seqr-S3-Authorize" not in plain
    if mode != "accel":
        assert render_template("nginx_site.conf.j2", {**ON, "seqr_s3_mode": mode}) == plain


def test_grants_are_keyed_by_the_whole_session_cookie_and_uri_and_only_grants_kept() -> None:
    site = directives(render_template("nginx_site.conf.j2", ON))
    assert 'proxy_cache_key "$host $cookie_seqr_session_x $request_uri";' in site
    assert "map $cookie_seqr_session_x $seqr_s3_no_session {" in site
    assert "proxy_no_cache $seqr_s3_no_session $seqr_s3_session_twice $seqr_s3_not_a_grant;" in site
    assert "proxy_cache_bypass $seqr_s3_no_session $seqr_s3_session_twice;" in site
    assert [line for line in site if line.startswith("proxy_cache_valid")] == ["proxy_cache_valid 200 5s;"]
    assert 'proxy_set_header X-Seqr-S3-Authorize "5";' in site
    # Every other way to seqr replaces a client's X-Seqr-S3-Authorize.
    assert site.count('proxy_set_header X-Seqr-S3-Authorize "";') == 1
    assert site.count('proxy_set_header X-Seqr-S3-Authorize "per-request";') == 1


@pytest.mark.parametrize(
    "extra",
    [{}, {"seqr_s3_nginx_s3_keepalive_servers": ["127.0.0.1:8333"]}, {"seqr_s3_nginx_slice_cache": True}],
    ids=["url-per-request", "keepalive-pool", "with-slice-cache"],
)
def test_nginx_accepts_authorize_once(extra: dict, tmp_path: Path) -> None:
    folders = {
        "seqr_s3_nginx_authorize_cache_path": str(tmp_path / "grants"),
        "seqr_s3_nginx_slice_cache_path": str(tmp_path / "slices"),
        "seqr_s3_nginx_resolvers": ["127.0.0.1"],
    }
    (tmp_path / "slices").mkdir()
    site = render_template("nginx_site.conf.j2", {**ON, **folders, **extra})
    checked = nginx_test(site, tmp_path / "nginx")
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "grants").is_dir()
    assert (tmp_path / "grants").stat().st_mode & 0o077 == 0, "nginx makes the grants' folder 0700"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"seqr_s3_nginx_authorize_ttl": 61}, "from 0 to 60"),
        ({"seqr_s3_nginx_authorize_ttl": 40, "seqr_s3_presign_expiry": 100}, "a third of seqr_s3_presign"),
        ({"seqr_s3_nginx_authorize_cache_path": "/var/cache/seqr_s3_nginx/g"}, "apart from the slice cache"),
        ({"seqr_s3_nginx_session_cookie_name": "a b"}, "cookie name"),
    ],
)
def test_the_role_refuses_unsafe_settings(variables: dict, named: str, tmp_path: Path) -> None:
    # validate.yml checks the package wheel (and SEQR_S3 with its validator) before these settings.
    done = run_role({"seqr_s3_package_wheel": str(built_wheel()), **variables}, tmp_path, "validate")
    assert done.returncode != 0
    assert named in done.stdout.replace("\n", " ")


@pytest.mark.parametrize(
    ("endpoint", "pool"),
    [
        ("http://127.0.0.1:8333", "127.0.0.1:8333"),
        ("https://s3.example.org", "s3.example.org:443"),
        ("https://[::1]:9000/", "[::1]:9000"),
        ("", None),
    ],
    ids=["custom-port", "custom-https", "ipv6", "aws-per-url"],
)
def test_a_fixed_endpoint_gets_the_keepalive_pool(endpoint: str, pool: str | None) -> None:
    """With authorize once every range is nginx's own request to S3: one fixed endpoint host (a custom
    endpoint) is pooled by default; AWS without an endpoint (virtual-hosted buckets) keeps a URL per
    request."""
    site = directives(render_template("nginx_site.conf.j2", {**ON, "seqr_s3_endpoint_url": endpoint}))
    if pool:
        assert site[site.index("upstream seqr_s3_store {") + 1] == f"server {pool};"
    else:
        assert "upstream seqr_s3_store {" not in site
    without = directives(render_template("nginx_site.conf.j2", {"seqr_s3_endpoint_url": endpoint}))
    assert "upstream seqr_s3_store {" not in without
