"""Fixtures for the igv.js CSS hash tests: the role's table and one tool run per version.

The tool (scripts/igv-css-hashes) installs igv.js from npm and drives Debian's headless Chromium, so each
version is run once per session with every CSP trial the tests need, and the tests read that one result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from igv_css_support import load_hash_table, run_wrapper, style_policy


@pytest.fixture(scope="session")
def hash_table() -> dict[str, list[str]]:
    """The committed table, read once."""
    return load_hash_table()


@pytest.fixture(scope="session")
def igv_tool_result(hash_table: dict[str, list[str]]) -> Callable[[str], dict[str, Any]]:
    """Returns a function giving the tool's JSON for a version, run once with the table's CSP trials.

    Trials: `all` (every table source for that version) and `drop-N` (all but the N-th source).
    """
    results: dict[str, dict[str, Any]] = {}

    def result_for(version: str) -> dict[str, Any]:
        if version not in results:
            sources = hash_table.get(version, [])
            trials = [f"all={style_policy(sources)}"] if sources else []
            for index in range(len(sources)):
                kept = sources[:index] + sources[index + 1 :]
                trials.append(f"drop-{index}={style_policy(kept)}")
            trial_args = [arg for trial in trials for arg in ("--csp-trial", trial)]
            completed = run_wrapper(version, "--json", *trial_args)
            assert completed.returncode == 0, f"tool failed for igv {version}:\n{completed.stderr}"
            results[version] = json.loads(completed.stdout)
        return results[version]

    return result_for
