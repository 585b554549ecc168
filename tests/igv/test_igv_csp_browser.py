"""For every igv.js version in the role's table: Chromium, under the table's CSP, shows IGV with no violation,
and dropping any one hash is seen as exactly one blocked <style> (so the check can fail)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from igv_css_support import load_hash_table

TABLE_VERSIONS = sorted(load_hash_table())


@pytest.mark.parametrize("version", TABLE_VERSIONS)
def test_table_entry_is_what_the_tool_computes_today(
    version: str, hash_table: dict[str, list[str]], igv_tool_result: Callable[[str], dict[str, Any]]
) -> None:
    """The table is tool output: a fresh run for the same release must give the same sources."""
    result = igv_tool_result(version)
    assert result["hashes"] == hash_table[version]
    assert result["stylesAddedByCreateBrowser"] == []
    assert result["stylesOutsideHead"] == []
    assert result["externalRequests"] == []
    assert "/ref/tiny.bed" in result["loopbackPaths"], "the probe's feature track was never loaded"


@pytest.mark.parametrize("version", TABLE_VERSIONS)
def test_table_hashes_give_zero_csp_violations(
    version: str, igv_tool_result: Callable[[str], dict[str, Any]]
) -> None:
    """Under `style-src 'self' <table hashes>` igv loads, creates its browser and nothing is blocked."""
    trial = igv_tool_result(version)["trials"]["all"]
    assert trial["error"] is None
    assert trial["done"] is True
    assert trial["violations"] == []
    assert trial["blockedStyles"] == []
    assert trial["styleHashes"], "igv added no <style> at all: the trial proved nothing"
    assert trial["pageErrors"] == []


@pytest.mark.parametrize("version", TABLE_VERSIONS)
def test_dropping_any_one_hash_gives_exactly_one_violation(
    version: str, hash_table: dict[str, list[str]], igv_tool_result: Callable[[str], dict[str, Any]]
) -> None:
    """Each hash is needed, and blocks exactly the <style> it names when missing."""
    trials = igv_tool_result(version)["trials"]
    for index, dropped in enumerate(hash_table[version]):
        trial = trials[f"drop-{index}"]
        assert trial["done"] is True, trial["error"]
        assert len(trial["violations"]) == 1, f"without {dropped}: {trial['violations']}"
        assert trial["violations"][0]["effectiveDirective"] in ("style-src-elem", "style-src")
        assert trial["blockedStyles"] == [dropped]
