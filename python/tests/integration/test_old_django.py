"""Every Django seqr pinned since 2021 runs seqr_s3's AppConfig, so its ready() patches seqr.

seqr ran Django 3.1 until 2022, and Django before 3.2 uses an app's AppConfig only when the package names it:
without that, "seqr_s3" in INSTALLED_APPS loads the package and never calls SeqrS3Config.ready(), so no patch
and no system checks, and every s3:// read falls through to seqr's own code (seen on real seqr of 2021-12).
For the newest pin of each Django minor the recorded seqr releases used (seqr_release_facts.json) a virtualenv
with that Django (from the machine's package index) loads the built wheel with the settings line the role
writes, and ready() must have run: the AppConfig is the package's, and apply_patch has spoken (this folder
holds no seqr, so it logs why it did not patch). Django 3.2 and later get no default_app_config (deprecated).
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest
from packaging.version import Version
from role_render import built_wheel

FACTS = Path(__file__).resolve().parents[1] / "unit" / "seqr_release_facts.json"
SETUP_AS_SEQR_DOES = """
import logging, warnings, django
from django.conf import settings
logging.basicConfig(level=logging.ERROR)
warnings.filterwarnings("error", message=".*default_app_config")
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
if "seqr_s3" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "seqr_s3"]
settings.configure(INSTALLED_APPS=INSTALLED_APPS, DATABASES={})
django.setup()
import seqr_s3
from django.apps import apps
config = type(apps.get_app_config("seqr_s3")).__name__
print(django.get_version(), config, hasattr(seqr_s3, "default_app_config"))
"""


def _newest_pin_per_minor() -> list[str]:
    pins = {release["django"] for release in json.loads(FACTS.read_text())["releases"]}
    newest: dict[tuple[int, int], Version] = {}
    for pin in map(Version, pins):
        minor = (pin.major, pin.minor)
        newest[minor] = max(newest.get(minor, pin), pin)
    return [str(pin) for _, pin in sorted(newest.items())]


@pytest.mark.parametrize("django_version", _newest_pin_per_minor())
def test_each_django_seqr_pinned_runs_the_apps_ready(django_version: str, tmp_path: Path) -> None:
    root = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    for requirement in ([f"Django=={django_version}"], ["--no-deps", str(built_wheel())]):
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirement],
            check=True,
            capture_output=True,
            timeout=600,
        )

    ran = subprocess.run(
        [str(python), "-c", SETUP_AS_SEQR_DOES],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )

    assert ran.returncode == 0, ran.stderr[-3000:]
    names_its_config = Version(django_version) < Version("3.2")
    assert ran.stdout.split() == [django_version, "SeqrS3Config", str(names_its_config)]
    assert "seqr_s3: not patching seqr" in ran.stderr and "cannot import seqr.utils.file_utils" in ran.stderr
