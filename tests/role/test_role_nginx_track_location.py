"""The nginx site's location for seqr's IGV track route: the same proxying as ``location /`` (URI unchanged,
signed-URL headers hidden) plus larger buffers, because proxy mode streams whole reads through it (bench/
measured nginx's CPU per byte halved with 64k pieces). Read from the rendered text and exercised live: nginx
from the template in front of the stand-in in proxy mode, against the session's SeaweedFS."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from role_render import render_template

TRACK_LOCATION = "~ ^/api/project/[^/]+/igv_track/"
PROJECT_1 = "R0001_project_1"


def _location_block(site: str, location: str) -> str:
    match = re.search(rf"location {re.escape(location)} \{{(.*?)\n    \}}", site, re.S)
    assert match, f"no location {location} in the rendered site"
    return match.group(1)


@pytest.mark.parametrize("ttl", [0, 5], ids=["ttl-0", "authorize-once"])
@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_track_location_proxies_like_the_app_location_with_larger_buffers(mode: str, ttl: int) -> None:
    """With authorize once (accel) the track route is proxied like this by its per-request location (the one
    nginx sends anything but a grant to), with the client's URI as it came."""
    site = render_template(
        "nginx_site.conf.j2",
        {"seqr_s3_mode": mode, "seqr_s3_nginx_resolvers": ["127.0.0.53"], "seqr_s3_nginx_authorize_ttl": ttl},
    )
    per_request = ttl and mode == "accel"
    track = _location_block(site, "@seqr_s3_track_per_request" if per_request else TRACK_LOCATION)
    app = _location_block(site, "/")
    uri = "$request_uri" if per_request else ""
    # Everything of the app location (proxy_pass, headers, hidden signed URL) is there.
    for line in app.strip().splitlines():
        if "proxy_pass" in line or line.strip().startswith("#"):
            continue
        # The per-request way tells seqr to ask its database (the app location sends the header empty).
        assert line.replace('Authorize ""', 'Authorize "per-request"') in track
    assert re.search(rf"^\s*proxy_pass http://seqr_s3_app{re.escape(uri)};$", track, re.M)
    assert "proxy_hide_header X-Seqr-S3-Url;" in track
    assert "proxy_buffer_size 64k;" in track
    assert "proxy_buffers 32 64k;" in track
    # Past the buffers nginx may still spill to temp files: that frees a proxy-mode worker from a slow client.
    assert "proxy_max_temp_file_size" not in track


def test_proxy_mode_reads_pass_the_track_location_byte_for_byte(
    standin_factory, nginx_factory, seeded_session, s3_bucket
) -> None:
    nginx = nginx_factory(standin_factory("proxy"), seqr_s3_mode="proxy")
    session = seeded_session(nginx, "collaborator")
    large = s3_bucket["large"]
    url = f"{nginx.base_url}/api/project/{PROJECT_1}/igv_track/{quote(large.s3_path, safe='')}"
    first, last = 12345, 12345 + (5 << 20)  # more than the 2 MiB of buffers: nginx must refill them
    answer = session.get(url, headers={"Range": f"bytes={first}-{last}"}, timeout=60)
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"bytes {first}-{last}/{large.local_path.stat().st_size}"
    assert answer.content == large.read_local()[first : last + 1]
    # The key with spaces and non-ASCII letters, encoded as seqr's UI does, reaches seqr unchanged.
    unicode_bam = s3_bucket["unicode_bam"]
    encoded = f"{nginx.base_url}/api/project/{PROJECT_1}/igv_track/{quote(unicode_bam.s3_path, safe='')}"
    answer = session.get(encoded, headers={"Range": "bytes=0-99"}, timeout=60)
    assert answer.status_code == 206
    assert answer.content == unicode_bam.read_local()[:100]
