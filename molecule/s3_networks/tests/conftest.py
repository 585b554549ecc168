"""The default scenario's verify helpers (hosts, fixtures, logins, re-running the role), for this scenario's
containers (molecule.yml sets SEQR_S3_SEQR_CONTAINER and SEQR_S3_S3_CONTAINER), plus where the S3 host's TLS
endpoints are (networks_data.py wrote them beside the CA)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

_DEFAULT_CONFTEST = Path(__file__).resolve().parents[2] / "default" / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("default_scenario_conftest", _DEFAULT_CONFTEST)
assert _spec and _spec.loader
default_scenario = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = default_scenario
_spec.loader.exec_module(default_scenario)

# Fixtures pytest must find in this conftest, and the helpers the tests import from it.
Scenario = default_scenario.Scenario
MANAGE = default_scenario.MANAGE
REQUEST_TIMEOUT = default_scenario.REQUEST_TIMEOUT
scenario = default_scenario.scenario
seqr_host = default_scenario.seqr_host
s3_host = default_scenario.s3_host
analyst = default_scenario.analyst
ensure_role = default_scenario.ensure_role
forget_applied = default_scenario.forget_applied


@pytest.fixture(scope="session")
def tls_endpoints(scenario: Any) -> dict[str, Any]:
    """radosgw's HTTPS host:port and the broken fronts (name, port, fault), as prepare set them up."""
    return json.loads((scenario.state_dir / "tls" / "endpoints.json").read_text())
