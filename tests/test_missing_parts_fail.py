"""A real part the tests need (nginx, SeaweedFS, tinyproxy, Chromium, podman) that is missing makes them fail,
never skip.

A skipped test looks green in `make test`: a moved template or an uninstalled nginx would silently skip every
accel test. So the suite holds no skip except the documented ones below, and the nginx helpers raise an error
that names what is missing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fixtures.nginx import NginxUnavailable, start_nginx
from role_render import nginx_test
from s3_network_support import ForwardProxyUnavailable, Tinyproxy

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_ROOTS = (REPO_ROOT / "tests", REPO_ROOT / "python" / "tests")
SKIP_CALLS = {"skip", "skipif", "importorskip"}
# (file, pytest attribute) -> why it may skip. Nothing that a missing tool or server causes belongs here.
DOCUMENTED_SKIPS: dict[tuple[str, str], str] = {}


def _skips_in(path: Path) -> set[tuple[str, str]]:
    """(file, attribute) of each ``pytest.skip``, ``mark.skip(if)`` and ``pytest.importorskip`` in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(REPO_ROOT).as_posix()
    return {
        (relative, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in SKIP_CALLS
    }


def test_only_documented_skips_in_the_suite() -> None:
    found: set[tuple[str, str]] = set()
    for root in TEST_ROOTS:
        for path in sorted(root.rglob("*.py")):
            if "node_modules" not in path.parts:
                found |= _skips_in(path)
    assert found == set(DOCUMENTED_SKIPS), (
        f"skips outside the documented ones: {sorted(found - set(DOCUMENTED_SKIPS))}; make the test fail "
        "with a message naming what is missing instead (or document a skip that no missing part causes here)"
    )


def test_missing_nginx_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no nginx on PATH
    with pytest.raises(NginxUnavailable, match="nginx is not installed"):
        start_nginx(tmp_path / "nginx", "127.0.0.1:9", 9)
    with pytest.raises(RuntimeError, match="nginx is not installed"):
        nginx_test("events {}\n", tmp_path / "check")


def test_missing_tinyproxy_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tinyproxy on PATH
    with pytest.raises(ForwardProxyUnavailable, match="tinyproxy is not installed"):
        Tinyproxy(tmp_path / "proxy", 9)
