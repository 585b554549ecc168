"""The role's igv.js version table: well-formed CSP sources, enough versions, and seqr's values for 2.10.5."""

from __future__ import annotations

import base64
import re

from igv_css_support import SEQR_IGV_2_10_5_CSS_HASHES

HASH_SOURCE = re.compile(r"^'sha256-(?P<digest>[A-Za-z0-9+/]{43}=)'$")
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def test_every_entry_is_a_quoted_sha256_source_of_32_bytes(hash_table: dict[str, list[str]]) -> None:
    """A malformed source is silently ignored by browsers, which would unstyle IGV: catch it here."""
    for version, sources in hash_table.items():
        assert EXACT_VERSION.match(version), f"{version!r} is not an exact release"
        assert sources, f"igv {version} has no sources"
        assert len(set(sources)) == len(sources), f"igv {version} lists a source twice"
        for source in sources:
            match = HASH_SOURCE.match(source)
            assert match, f"igv {version}: {source!r} is not a 'sha256-…' source"
            digest = base64.b64decode(match["digest"], validate=True)
            assert len(digest) == 32
            # Canonical form only: browsers ignore the last character's spare bits, so a hand edit there
            # would look different yet match the same digest; the tool never writes such a source.
            assert base64.b64encode(digest).decode() == match["digest"]


def test_table_has_seqr_version_and_later_2x_and_3x_releases(hash_table: dict[str, list[str]]) -> None:
    """2.10.5 (what seqr pins) plus at least four later releases, spanning both 2.x and 3.x."""
    assert hash_table["2.10.5"] == SEQR_IGV_2_10_5_CSS_HASHES

    def as_tuple(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    later = [version for version in hash_table if as_tuple(version) > (2, 10, 5)]
    assert len(later) >= 4
    assert any(version.startswith("2.") for version in later)
    assert any(version.startswith("3.") for version in later)
