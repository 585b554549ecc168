"""The Host the role's site sends seqr: the client's, port included. Django's CSRF check (4.x) compares a
browser's Origin with that Host, so a seqr served on a port other than 80/443 takes a browser's POST (its own
login) only when nginx passes the port on."""

from __future__ import annotations

import pytest
import requests
from role_render import render_template


def host_headers(site: str) -> list[str]:
    return [line.strip() for line in site.splitlines() if line.strip().startswith("proxy_set_header Host ")]


@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
@pytest.mark.parametrize("ttl", [5, 0], ids=["authorize-once", "ttl-0"])
def test_every_way_to_seqr_passes_the_clients_host(mode: str, ttl: int) -> None:
    site = render_template(
        "nginx_site.conf.j2",
        {
            "seqr_s3_mode": mode,
            "seqr_s3_nginx_authorize_ttl": ttl,
            "seqr_s3_nginx_session_cookie_name": "sessionid",
            "seqr_s3_nginx_reads_proxy_enabled": True,
        },
    )
    to_s3 = "proxy_set_header Host $seqr_s3_signed_host;"
    to_seqr = [line for line in host_headers(site) if line != to_s3]
    assert to_seqr, "the site names a Host for seqr"
    assert set(to_seqr) == {"proxy_set_header Host $http_host;"}


def _browser_login(base_url: str, origin: str, email: str, password: str) -> requests.Response:
    """seqr's login as a browser sends it: the page first (CSRF cookie), then a POST with the token and the
    Origin and Referer a browser adds to a same-origin fetch."""
    session = requests.Session()
    session.get(base_url + "/", timeout=30).raise_for_status()
    return session.post(
        base_url + "/api/login",
        json={"email": email, "password": password},
        headers={
            "X-CSRFToken": session.cookies["csrf_token"],
            "Origin": origin,
            "Referer": origin + "/",
        },
        timeout=30,
    )


def test_a_browser_post_passes_through_the_site_on_a_non_default_port(
    standin_factory, nginx_factory, standin_data
) -> None:
    """The stand-in's CSRF_TRUSTED_ORIGINS (seqr's: BASE_URL) does not name this origin: only the Host with
    its port lets Django's Origin check pass. A foreign Origin is still refused."""
    nginx = nginx_factory(standin_factory("accel"))
    port = nginx.base_url.rsplit(":", 1)[1]
    assert port not in ("80", "443")
    user = standin_data.users["collaborator"]

    same_origin = _browser_login(nginx.base_url, nginx.base_url, user.email, user.password)
    assert same_origin.status_code == 200, same_origin.text[:300]

    foreign = _browser_login(nginx.base_url, "http://elsewhere.example", user.email, user.password)
    assert foreign.status_code == 403
    assert "Origin checking failed" in foreign.text
