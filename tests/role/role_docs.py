"""README's "Role variables" table, generated from roles/seqr_s3/meta/argument_specs.yml.

`python tests/role/role_docs.py --write` rewrites the table between README's markers; the tests compare README
with the generated text, so a variable added to the role without documentation fails CI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS = REPO_ROOT / "roles" / "seqr_s3" / "meta" / "argument_specs.yml"
README = REPO_ROOT / "README.md"
BEGIN = "<!-- BEGIN role variables: generated from meta/argument_specs.yml by tests/role/role_docs.py -->"
END = "<!-- END role variables -->"


def role_options() -> dict[str, dict[str, Any]]:
    """The options of the role's main entry point, in file order."""
    return yaml.safe_load(SPECS.read_text())["argument_specs"]["main"]["options"]


def _default_text(value: Any) -> str:
    """A default as YAML would show it, in code style; JSON keeps lists and empty strings unambiguous."""
    text = value if isinstance(value, str) and value else json.dumps(value)
    return "`" + str(text).replace("|", "\\|") + "`"


def variables_table() -> str:
    """Markdown table: variable, type (with choices), default, description."""
    lines = ["| variable | type | default | description |", "|---|---|---|---|"]
    for name, option in role_options().items():
        kind = option["type"] + (f" of {option['elements']}" if option.get("elements") else "")
        if option.get("choices"):
            kind += ": " + ", ".join(f"`{choice}`" for choice in option["choices"])
        description = " ".join(option["description"].split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {kind} | {_default_text(option.get('default'))} | {description} |")
    return "\n".join(lines)


def readme_section() -> str:
    """The text README must hold between its markers."""
    return f"{BEGIN}\n{variables_table()}\n{END}"


def current_readme_section() -> str:
    """What README holds now between the markers (empty when the markers are missing)."""
    text = README.read_text()
    if BEGIN not in text or END not in text:
        return ""
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def write_readme() -> None:
    """Replace the table between README's markers (markers must already be there)."""
    text = README.read_text()
    old = current_readme_section()
    if not old:
        raise SystemExit(f"README.md lacks the markers {BEGIN!r} … {END!r}")
    README.write_text(text.replace(old, readme_section()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_readme()
    else:
        print(readme_section())
