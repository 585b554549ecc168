"""seqr ran Django 3.1 until 2022; Django before 3.2 uses an app's AppConfig only when the package names it.

Without that, "seqr_s3" in INSTALLED_APPS loads the package and never calls SeqrS3Config.ready(): no patch, no
system checks, and every s3:// read falls through to seqr's own code (seen on real seqr of 2021-12). Here a
virtualenv with the Django 3.1 seqr pinned then (from the machine's package index) loads the built wheel with
exactly the settings line the role writes, and ready() must have run: its AppConfig is the package's and
apply_patch has spoken (this folder holds no seqr, so it logs why it did not patch).
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from role_render import built_wheel

SEQR_2021_DJANGO = "Django==3.1.14"
SETUP_AS_SEQR_DOES = """
import logging, django
from django.conf import settings
logging.basicConfig(level=logging.ERROR)
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
if "seqr_s3" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "seqr_s3"]
settings.configure(INSTALLED_APPS=INSTALLED_APPS, DATABASES={})
django.setup()
from django.apps import apps
print(django.get_version(), type(apps.get_app_config("seqr_s3")).__name__)
"""


@pytest.fixture(scope="module")
def django_31_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("django31")
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    for requirement in ([SEQR_2021_DJANGO], ["--no-deps", str(built_wheel())]):
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirement],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return python


def test_django_31_runs_the_apps_ready(django_31_python: Path, tmp_path: Path) -> None:
    ran = subprocess.run(
        [str(django_31_python), "-c", SETUP_AS_SEQR_DOES],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split() == ["3.1.14", "SeqrS3Config"]
    assert "seqr_s3: not patching seqr" in ran.stderr and "cannot import seqr.utils.file_utils" in ran.stderr


def test_newer_django_finds_the_app_config_without_being_told() -> None:
    """Django 3.2 and later pick apps.py's AppConfig themselves; naming it there would be deprecated noise."""
    ran = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", SETUP_AS_SEQR_DOES],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split()[1] == "SeqrS3Config"
