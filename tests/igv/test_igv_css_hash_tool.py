"""The hash tool against a known answer (seqr's own values for igv.js 2.10.5) and against bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from igv_css_support import SEQR_IGV_2_10_5_CSS_HASHES, TABLE_PATH, TABLE_VARIABLE, run_wrapper


def test_tool_reproduces_seqr_hashes_for_igv_2_10_5(igv_tool_result: Callable[[str], dict[str, Any]]) -> None:
    """The tool must give exactly seqr's four IGV_CSS_HASHES, in insertion order, for seqr's pin."""
    result = igv_tool_result("2.10.5")
    assert result["hashes"] == SEQR_IGV_2_10_5_CSS_HASHES
    assert result["entry"] == "dist/igv.esm.min.js"


def test_igv_2_10_5_adds_styles_only_on_import_and_only_to_head(
    igv_tool_result: Callable[[str], dict[str, Any]],
) -> None:
    """createBrowser and loadTrack must add no <style> (else the list would be incomplete)."""
    result = igv_tool_result("2.10.5")
    assert len(result["stylesAtImport"]) == 4
    assert all(style["inHead"] for style in result["stylesAtImport"])
    assert result["stylesAddedByCreateBrowser"] == []
    assert result["stylesOutsideHead"] == []
    # createBrowser really ran against the tiny reference and loaded the BED track, fully offline.
    assert {"/ref/tiny.fa.fai", "/ref/tiny.bed"} <= set(result["loopbackPaths"])
    assert result["externalRequests"] == []
    assert result["pageErrors"] == []


def test_default_output_is_yaml_for_the_role_variable() -> None:
    """Without --json the wrapper prints YAML that can be pasted as seqr_s3_igv_css_hashes."""
    completed = run_wrapper("2.10.5")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("# igv.js 2.10.5 (dist/igv.esm.min.js)")
    assert yaml.safe_load(completed.stdout) == {"seqr_s3_igv_css_hashes": SEQR_IGV_2_10_5_CSS_HASHES}


def test_update_rewrites_a_wrong_entry_into_the_committed_table(tmp_path: Path) -> None:
    """--update replaces a stale entry and leaves the file exactly as committed (the table is tool output)."""
    committed = TABLE_PATH.read_text(encoding="utf-8")
    stale_source = "'sha256-" + "A" * 43 + "='"
    stale = re.sub(
        r'(  "2\.10\.5":\n)(    - .*\n)+',
        lambda match: f'{match.group(1)}    - "{stale_source}"\n',
        committed,
    )
    assert stale != committed
    table_copy = tmp_path / "igv_css_hashes.yml"
    table_copy.write_text(stale, encoding="utf-8")

    completed = run_wrapper("2.10.5", "--update", "--table", str(table_copy))

    assert completed.returncode == 0, completed.stderr
    assert table_copy.read_text(encoding="utf-8") == committed
    assert yaml.safe_load(committed)[TABLE_VARIABLE]["2.10.5"] == SEQR_IGV_2_10_5_CSS_HASHES


def test_update_refuses_a_malformed_table(tmp_path: Path) -> None:
    """A hand-edited table with a non-hash entry is refused before anything is written."""
    broken = tmp_path / "igv_css_hashes.yml"
    broken.write_text(f'{TABLE_VARIABLE}:\n  "2.10.5":\n    - "sha256-not-quoted"\n', encoding="utf-8")
    completed = run_wrapper("2.10.5", "--update", "--table", str(broken))
    assert completed.returncode != 0
    assert "is not a list of 'sha256-" in completed.stderr
    assert "sha256-not-quoted" in broken.read_text(encoding="utf-8")


def test_inexact_versions_are_refused_before_npm_runs() -> None:
    """Ranges and tags would make the table irreproducible, so they are usage errors."""
    for bad_version in ("latest", "^2.10.5", "2.10", "2.10.5; rm -rf /"):
        completed = run_wrapper(bad_version)
        assert completed.returncode == 2
        assert "not an exact igv.js release version" in completed.stderr


def test_unpublished_version_fails_with_npms_reason() -> None:
    """A version npm does not have ends the run with a clear error, not a traceback."""
    completed = run_wrapper("0.0.999")
    assert completed.returncode == 1
    assert "npm could not install igv@0.0.999" in completed.stderr
    assert "Traceback" not in completed.stderr
