"""seqr's own IGV API tests, run on the converged host with seqr_s3 installed and active.

They are seqr's proof that its IGV views still behave as seqr means them to (Google Storage and local paths,
the IGV table uploads, adding a sample); with our patch applied they must all still pass. The run uses
seqr's own test runner and databases; only the two ClickHouse aliases are left out (settings_no_clickhouse).
"""

from __future__ import annotations

import os
import re

import pytest
import testinfra

SEQR_CONTAINER = os.environ.get("SEQR_S3_SEQR_CONTAINER", "real-seqr")
# As the seqr unit runs: its environment file, the seqr user, HOME for pyliftover's placeholder chain files.
MANAGE = (
    "cd /seqr && set -a && . /etc/default/seqr && set +a && "
    "runuser -u seqr -- env HOME=/home/seqr PYTHONPATH=/var/lib/seqr-tests "
    "DJANGO_SETTINGS_MODULE=settings_no_clickhouse /opt/venv/bin/python manage.py"
)
IGV_TESTS = "seqr.views.apis.igv_api_tests"


@pytest.fixture(scope="module")
def seqr_host() -> testinfra.host.Host:
    return testinfra.get_host(f"podman://{SEQR_CONTAINER}")


def test_seqr_s3_is_active_under_the_test_settings(seqr_host: testinfra.host.Host) -> None:
    """The tests below only prove something if our app is installed and its patch applied in that process."""
    probe = (
        "from django.conf import settings; from seqr_s3.patch import is_patched; "
        "print('installed', 'seqr_s3' in settings.INSTALLED_APPS); "
        "print('patched', is_patched('seqr.views.apis.igv_api', '_stream_file'))"
    )
    result = seqr_host.run(f'{MANAGE} shell -c "{probe}"')
    assert result.rc == 0, result.stderr[-3000:]
    assert "installed True" in result.stdout
    assert "patched True" in result.stdout


def test_seqrs_own_igv_api_tests_pass(seqr_host: testinfra.host.Host) -> None:
    result = seqr_host.run(f"{MANAGE} test --noinput --verbosity 2 {IGV_TESTS}")
    output = result.stdout + result.stderr
    ran = re.search(r"^Ran (\d+) tests? in ", output, re.MULTILINE)
    assert result.rc == 0, output[-6000:]
    assert ran and int(ran.group(1)) > 0, "seqr's test runner found no IGV tests: " + output[-3000:]
    assert re.search(r"^OK\b", output, re.MULTILINE), output[-3000:]
