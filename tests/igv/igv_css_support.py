"""Helpers for the igv.js CSS hash tests: the known answer, the role's table, and running the tool.

A uniquely named module (not conftest) so test files can import it without clashing with other conftest.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WRAPPER = REPO_ROOT / "scripts" / "igv-css-hashes"
TABLE_PATH = REPO_ROOT / "roles" / "seqr_s3" / "vars" / "igv_css_hashes.yml"
TABLE_VARIABLE = "seqr_s3_igv_css_hash_table"

# seqr's IGV_CSS_HASHES for igv.js 2.10.5, copied from broadinstitute/seqr settings.py: the known answer the
# tool must reproduce exactly (same sources, same order of insertion).
SEQR_IGV_2_10_5_CSS_HASHES = [
    "'sha256-dUpUK4yXR60CNDI/4ZeR/kpSqQ3HmniKj/Z7Hw9ZNTA='",
    "'sha256-s8l0U2/BsebhfOvm08Z+4w1MnftmnPeoOMbSi+f5hCI='",
    "'sha256-T9widob1zmlNnk3NzLRUfXFToG7AkPTuLDXaKU2tc6c='",
    "'sha256-ITHmamcImsZ/Je1xrdtDLZVvRSpj1Zokb6uHXORB824='",
]

# Failure guard for one tool run (npm install + several page loads); healthy runs take seconds.
TOOL_TIMEOUT_SECONDS = 900


def load_hash_table() -> dict[str, list[str]]:
    """The role's version table as plain Python (keys are version strings)."""
    loaded = yaml.safe_load(TABLE_PATH.read_text(encoding="utf-8"))
    return {str(version): list(sources) for version, sources in loaded[TABLE_VARIABLE].items()}


def style_policy(sources: list[str]) -> str:
    """The CSP header the browser tests load igv under: only our page and the listed hashes may style."""
    return " ".join(["style-src", "'self'", *sources])


def run_wrapper(*args: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/igv-css-hashes as an operator would, capturing both streams.

    On timeout it is stopped with SIGTERM (subprocess.run would SIGKILL it), so it can close Chromium.
    """
    command = [str(WRAPPER), *args]
    wrapper = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    try:
        stdout, stderr = wrapper.communicate(timeout=TOOL_TIMEOUT_SECONDS)
    except BaseException:
        wrapper.terminate()
        try:
            wrapper.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            wrapper.kill()
            wrapper.communicate()
        raise
    return subprocess.CompletedProcess(command, wrapper.returncode, stdout, stderr)
