"""Every role variable has a default, an argument spec with a description, and a README row; they agree."""

from __future__ import annotations

import yaml
from role_docs import current_readme_section, readme_section, role_options
from role_render import ROLE_DIR


def test_defaults_and_argument_specs_name_the_same_variables_with_the_same_defaults() -> None:
    defaults = yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())
    options = role_options()
    assert list(defaults) == list(options)
    for name, option in options.items():
        assert option.get("default") == defaults[name], name
        assert len(option["description"]) > 20, f"{name} needs a description that says what it is for"
        if option.get("choices"):
            assert defaults[name] in option["choices"], name


def test_secret_options_are_marked_no_log() -> None:
    options = role_options()
    for name in ("seqr_s3_aws_secret_access_key", "seqr_s3_aws_access_key_id", "seqr_s3_aws_session_token"):
        assert options[name].get("no_log") is True, name


def test_readme_role_variables_table_matches_the_specs() -> None:
    assert current_readme_section() == readme_section(), (
        "run: .venv/bin/python tests/role/role_docs.py --write"
    )


PLATFORMS_TABLE = ROLE_DIR.parents[1] / "molecule" / "default" / "platforms.md"


def test_meta_claims_only_debian_releases_that_passed_the_scenario() -> None:
    """meta/main.yml's platforms are releases with a passed run in molecule/default/platforms.md (written by
    `make molecule-matrix`), or bookworm, which CI's `make test` runs on every commit."""
    meta = yaml.safe_load((ROLE_DIR / "meta" / "main.yml").read_text())["galaxy_info"]["platforms"]
    assert [platform["name"] for platform in meta] == ["Debian"]
    passed = {"bookworm"}
    for line in PLATFORMS_TABLE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) >= 3 and cells[2] == "passed":
            passed.add(cells[0].split()[0])
    assert set(meta[0]["versions"]) <= passed
