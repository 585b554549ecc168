"""The per-host secret nginx sends seqr (tasks/accel_secret.yml), run on this machine by ansible-playbook, and
how the rendered site uses it: made once, never changed by a later run, root/seqr's group only, never shown
in Ansible's output; nginx sends it to seqr in place of whatever a client sent."""

from __future__ import annotations

import grp
import re
import stat
from pathlib import Path

import pytest
from role_play import changed_count, run_role
from role_render import nginx_test, render_template

SECRET_LINE = re.compile(r"^[A-Za-z0-9]{64}\n$")


def _variables(home: Path, gid: int) -> dict:
    return {
        "seqr_s3_home": str(home),
        "__seqr_s3_user_gid": gid,
        # Nothing to restart or reload on this machine: the handlers the tasks notify must not run.
        "seqr_s3_service_manager": "none",
        "__seqr_s3_nginx_put_back": True,
    }


def _mode_owner(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


@pytest.mark.usefixtures("as_root")  # the files belong to root and seqr's group
def test_secret_is_made_once_private_and_never_shown(tmp_path: Path) -> None:
    home = tmp_path / "opt_seqr_s3"
    gid = grp.getgrnam("nogroup").gr_gid
    variables = _variables(home, gid)

    checked = run_role(variables, tmp_path, "accel_secret.yml", "--check")
    assert checked.returncode == 0, checked.stdout
    assert not home.exists(), "check mode writes nothing"

    made = run_role(variables, tmp_path, "accel_secret.yml", "--diff", "-v")
    assert made.returncode == 0, made.stdout
    secret_file = home / "secret" / "accel_secret"
    nginx_conf = home / "secret" / "nginx_accel_secret.conf"
    secret_text = secret_file.read_text()
    assert SECRET_LINE.match(secret_text), "one line of 64 letters and digits"
    secret = secret_text.strip()
    assert _mode_owner(home / "secret") == (0o750, 0, gid)
    assert _mode_owner(secret_file) == (0o640, 0, gid), "seqr's user reads it, nobody else"
    assert _mode_owner(nginx_conf) == (0o600, 0, 0), "nginx's master (root) reads it, nobody else"
    assert f'default "{secret}";' in nginx_conf.read_text()
    for run in (checked, made):
        assert secret not in run.stdout + run.stderr

    again = run_role(variables, tmp_path, "accel_secret.yml", "--diff", "-v")
    assert again.returncode == 0, again.stdout
    assert changed_count(again.stdout) == 0, again.stdout
    assert secret_file.read_text() == secret_text, "a later run keeps the host's secret"
    assert secret not in again.stdout + again.stderr
    checked_again = run_role(variables, tmp_path, "accel_secret.yml", "--check")
    assert changed_count(checked_again.stdout) == 0, checked_again.stdout

    # The site the role renders includes nginx's copy, and nginx accepts it.
    site = render_template(
        "nginx_site.conf.j2",
        {"seqr_s3_nginx_resolvers": ["127.0.0.1"], "__seqr_s3_nginx_accel_secret_conf": str(nginx_conf)},
    )
    assert f"include {nginx_conf};" in site
    assert secret not in site, "the world-readable site file never holds the secret"
    tested = nginx_test(site, tmp_path / "nginx")
    assert tested.returncode == 0, tested.stderr


@pytest.mark.parametrize("ttl", [0, 5], ids=["ttl-0", "authorize-once"])
@pytest.mark.parametrize("mode", ["accel", "proxy", "redirect"])
def test_every_location_to_an_app_replaces_the_clients_secret_header(mode: str, ttl: int) -> None:
    """proxy_set_header replaces a client's header of the same name: every location that proxies to seqr sends
    nginx's value (empty when rendered without the role's secret file), the reads location sends none. With
    authorize once (accel) the grant question and the per-request way are two more locations to seqr; accel's
    failed fetch is one more, the only one that says so (X-Seqr-S3-Store-Failed), which the others clear."""
    site = render_template(
        "nginx_site.conf.j2",
        {
            "seqr_s3_mode": mode,
            "seqr_s3_nginx_resolvers": ["127.0.0.1"],
            "seqr_s3_nginx_reads_proxy_enabled": True,
            "seqr_s3_nginx_reads_upstream": "http://127.0.0.1:9",
            "seqr_s3_nginx_authorize_ttl": ttl,
        },
    )
    app_locations = re.findall(r"proxy_pass http://seqr_s3_app(?:\$request_uri)?;(.*?)\n    }", site, re.S)
    accel = mode == "accel"
    assert len(app_locations) == 2 + (accel and ttl > 0) + accel
    for block in app_locations:
        assert "proxy_set_header X-Seqr-S3-Accel-Secret $seqr_s3_accel_secret;" in block
    store_failed = [
        re.findall(r'proxy_set_header X-Seqr-S3-Store-Failed "(.*)";', block) for block in app_locations
    ]
    assert sorted(store_failed) == ([[""]] * (len(app_locations) - 1) + [["yes"]] if accel else [[]] * 2)
    assert 'proxy_set_header X-Seqr-S3-Accel-Secret "";' in site
    assert 'map $host $seqr_s3_accel_secret {\n    default "";\n}' in site
