"""A run that fails part-way leaves nginx's site and seqr's settings.py as they were and does not restart seqr
(issue 13, item 6, third bullet), and seqr_s3_pip_extra_args never reaches Ansible's output (item 4).

The whole role runs by ansible-playbook against a seqr stand-in with a real virtualenv in a temp folder
(tests/role/role_play.py); the role's whole-configuration `nginx -t` is pointed at a loopback nginx.conf that
includes the stand-in's sites-enabled folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from role_play import SeqrStandinHost, run_role, tree_listing

pytestmark = pytest.mark.usefixtures("as_root")  # the role runs as root on a seqr host

# Valid on its own, but next to the role's site nginx refuses the whole configuration (two default servers).
OTHER_DEFAULT_SERVER = "    server { listen 18080 default_server; return 404; }\n"


def test_site_refused_by_the_whole_nginx_config_changes_nothing_of_seqr(tmp_path: Path) -> None:
    host = SeqrStandinHost(tmp_path, with_venv=True)
    host.write_nginx_conf(OTHER_DEFAULT_SERVER)
    checkout_before = tree_listing(host.checkout)
    venv_before = tree_listing(host.venv)

    failed = run_role(host.variables(seqr_s3_nginx_default_server=True), tmp_path)

    assert failed.returncode != 0
    assert "a duplicate default server" in failed.stdout
    assert "nothing of seqr (package, settings.py, AWS profile) was changed" in failed.stdout
    assert tree_listing(host.checkout) == checkout_before, "settings.py (or the checkout) changed"
    assert host.settings.read_text() == SeqrStandinHost.SETTINGS
    assert tree_listing(host.venv) == venv_before, "the package went into seqr's virtualenv"
    assert not host.aws_dir.exists(), "the AWS profile was written"
    assert not host.restarted.exists(), "seqr was restarted"
    assert list(host.sites_available.iterdir()) == [] and list(host.sites_enabled.iterdir()) == []


def test_failed_package_install_puts_the_site_back_and_hides_the_pip_arguments(tmp_path: Path) -> None:
    """pip fails after the new site passed nginx -t (its private index is down): the site is taken back out,
    settings.py stays, seqr is not restarted, and the index URL's token shows nowhere, even with -v (which
    prints every task's result) and in the failure message that carries pip's own words."""
    host = SeqrStandinHost(tmp_path, with_venv=True)
    token = "s3cr3t-index-t0ken"
    extra_args = f"--retries 0 --index-url https://deploy:{token}@127.0.0.1:9/simple"

    failed = run_role(host.variables(seqr_s3_pip_extra_args=extra_args), tmp_path, "main", "-v")

    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "pip could not install boto3" in failed.stdout
    assert "the nginx site and settings.py were put back as they were" in failed.stdout
    assert token not in output
    assert host.settings.read_text() == SeqrStandinHost.SETTINGS
    assert not host.restarted.exists(), "seqr was restarted"
    assert list(host.sites_available.iterdir()) == [] and list(host.sites_enabled.iterdir()) == []
    assert not (host.home / "backup" / "nginx-site.previous").exists()
