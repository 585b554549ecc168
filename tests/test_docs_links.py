"""Every relative link and every repository path the documents name exists.

Documents: README.md, bench/README.md, molecule/*/README.md and docs/*.md.

What counts as a reference:
- a markdown link or image, ``[text](target)``: a target without a scheme is relative to the document's folder
  and must exist; a ``#fragment`` must be a heading of the markdown file it points to (GitHub's anchors);
- a repository path in code: an inline code span without whitespace, or a whitespace-separated word of a
  fenced code block, that contains ``/`` and whose first segment is a top-level folder git tracks here
  (``roles``, ``tests``, ...). It is relative to the repository root. ``<placeholder>`` and ``*`` match like
  glob wildcards (at least one file must match); a pytest node id's ``::name`` is ignored.
Paths on hosts (``/etc/nginx``), in the user's home (``~/.aws``) or in untracked folders (``.venv``, ``dist``)
are not repository paths by this rule.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCUMENT_PATTERNS = ("README.md", "bench/README.md", "molecule/*/README.md", "docs/*.md")

LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
PLACEHOLDER = re.compile(r"<[^<>/]*>")
WORD_EDGES = "\"'`,;:()[]{}"


def documents() -> list[Path]:
    """The markdown files this test reads, in a stable order."""
    found: set[Path] = set()
    for pattern in DOCUMENT_PATTERNS:
        found.update(REPO_ROOT.glob(pattern))
    return sorted(found)


@lru_cache(maxsize=1)
def top_level_folders() -> frozenset[str]:
    """First segments of the paths git tracks here: what a repository path starts with."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return frozenset(path.split("/", 1)[0] for path in listed if "/" in path)


def split_fences(text: str) -> tuple[str, str]:
    """(prose with fenced blocks blanked, the fenced blocks' contents)."""
    prose, code, inside = [], [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            prose.append("")
            continue
        (code if inside else prose).append(line)
        if inside:
            prose.append("")
    return "\n".join(prose), "\n".join(code)


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors_of(markdown: str) -> set[str]:
    """Every heading anchor of a markdown text, numbered as GitHub numbers repeated ones."""
    prose, _ = split_fences(markdown)
    seen: dict[str, int] = {}
    anchors = set()
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose, re.M):
        anchor = github_anchor(match.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def repository_path_candidates(text: str) -> list[str]:
    """Inline code spans and fenced-code words that name a path in this repository."""
    prose, code = split_fences(text)
    words = [span for span in CODE_SPAN.findall(prose) if not re.search(r"\s", span)]
    words += [word.strip(WORD_EDGES) for word in code.split()]
    folders = top_level_folders()
    return [word for word in words if "/" in word and word.split("/", 1)[0] in folders]


def _exists(base: Path, path: str) -> bool:
    pattern = PLACEHOLDER.sub("*", path.split("::", 1)[0]).rstrip("/")
    if "*" in pattern or "?" in pattern:
        return any(base.glob(pattern))
    return (base / pattern).exists()


def broken_references(document: Path, text: str) -> list[str]:
    """What ``text`` (the contents of ``document``) names that does not exist, one line per problem."""
    problems = []
    prose, _ = split_fences(text)
    for target in LINK.findall(CODE_SPAN.sub(lambda m: " " * len(m.group(0)), prose)):
        if SCHEME.match(target):
            continue
        path, _, fragment = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            problems.append(f"link ({target}): {linked} does not exist")
        elif fragment and linked.suffix == ".md" and fragment not in anchors_of(linked.read_text()):
            problems.append(f"link ({target}): {linked.name} has no heading #{fragment}")
    for path in repository_path_candidates(text):
        if not _exists(REPO_ROOT, path):
            problems.append(f"path `{path}` does not exist in the repository")
    return problems


def test_the_documents_are_the_ones_promised() -> None:
    names = {str(path.relative_to(REPO_ROOT)) for path in documents()}
    assert {"README.md", "bench/README.md", "docs/CONTRACT.md"} <= names
    assert {"molecule/default/README.md", "molecule/real_seqr/README.md"} <= names


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_link_and_repository_path_exists(document: Path) -> None:
    assert broken_references(document, document.read_text()) == []


def test_the_checker_reports_broken_links_anchors_and_paths() -> None:
    sample = (
        "See [the contract](docs/CONTRACT.md), [a lost page](docs/NO_SUCH_PAGE.md), "
        "[a lost heading](README.md#no-such-heading), [upstream](https://github.com/broadinstitute/seqr), "
        "`roles/seqr_s3/defaults/main.yml`, `roles/seqr_s3/no_such_file.yml`, `bench/results/<date>.json`, "
        "`bench/results/<date>.nothing`, `/etc/nginx/sites-enabled` and `~/.aws/credentials`.\n"
        "```\nansible-playbook -i inventories/example/hosts.yml playbooks/no_such_play.yml\n```\n"
    )
    problems = broken_references(REPO_ROOT / "README.md", sample)
    assert len(problems) == 5, problems
    assert "docs/NO_SUCH_PAGE.md" in problems[0]
    assert "#no-such-heading" in problems[1]
    assert "roles/seqr_s3/no_such_file.yml" in problems[2]
    assert "bench/results/<date>.nothing" in problems[3]
    assert "playbooks/no_such_play.yml" in problems[4]


def test_github_anchors_follow_github() -> None:
    assert github_anchor("Molecule scenario `default`: the role on real hosts") == (
        "molecule-scenario-default-the-role-on-real-hosts"
    )
    assert anchors_of("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}
