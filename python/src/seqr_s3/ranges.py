"""HTTP range requests per RFC 9110 (sections 14 and 13.1.5), for one object of known size.

Only single ranges are served. A malformed header, a unit other than ``bytes`` or a multi-range request is
ignored, which RFC 9110 allows ("a server MAY ignore the Range header field"): the client then gets the whole
object with 200. igv.js only ever asks for single ranges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from django.utils.http import parse_http_date_safe

WHOLE = "whole"
PARTIAL = "partial"
UNSATISFIABLE = "unsatisfiable"

# A range-spec is first-pos "-" [last-pos] or "-" suffix-length; positions are unsigned decimals.
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_OWS = " \t"
# Positions longer than this are absurd for any object (S3 caps objects at 5 TiB, 13 digits). They are
# capped to one value beyond every size, which keeps int() clear of Python's 4300-digit conversion limit and
# still gives the RFC answer (a huge first-pos is unsatisfiable, a huge last-pos or suffix is clamped).
MAX_POSITION_DIGITS = 30
_BEYOND_ANY_SIZE = 10**MAX_POSITION_DIGITS


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``first..last`` inside an object."""

    first: int
    last: int

    @property
    def length(self) -> int:
        """Number of bytes the range covers."""
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        """The Content-Range value of a 206 answer, always with the complete length."""
        return f"bytes {self.first}-{self.last}/{size}"

    def as_request_header(self) -> str:
        """The Range value to send upstream (to S3) for exactly these bytes."""
        return f"bytes={self.first}-{self.last}"


@dataclass(frozen=True)
class RangeDecision:
    """What to answer: the whole object (200), one range (206) or nothing (416)."""

    kind: str
    byte_range: Optional[ByteRange] = None


@dataclass(frozen=True)
class RangeSpec:
    """A syntactically valid single range-spec, not yet checked against the object's size."""

    first: Optional[int]  # None for a suffix range
    last: Optional[int]  # None when open-ended ("a-") or a suffix range
    suffix_length: Optional[int] = None

    def as_request_header(self) -> str:
        """The same range in canonical form, for an upstream (S3) that is stricter or laxer than RFC 9110."""
        if self.first is None:
            return f"bytes=-{self.suffix_length}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"


def unsatisfiable_content_range(size: int) -> str:
    """The Content-Range value of a 416 answer."""
    return f"bytes */{size}"


def _significant(digits: str) -> str:
    return digits.lstrip("0") or "0"


def _position(digits: str) -> int:
    significant = _significant(digits)
    if len(significant) > MAX_POSITION_DIGITS:
        return _BEYOND_ANY_SIZE
    return int(significant)


def _less_than(left: str, right: str) -> bool:
    """Compare two unsigned decimals exactly, however long, without converting them."""
    left, right = _significant(left), _significant(right)
    return (len(left), left) < (len(right), right)


def parse_range_spec(header: Optional[str]) -> Optional[RangeSpec]:
    """Return the single range a Range header asks for, or None when the header is to be ignored.

    Ignored: absent or empty header, another unit, more than one range, anything not matching the grammar
    (including ``last < first``). The unit is compared case-insensitively and empty list elements are skipped,
    both as RFC 9110 requires of recipients.
    """
    if not header:
        return None
    unit, equals, range_set = header.strip(_OWS).partition("=")
    if not equals or unit.lower() != "bytes":
        return None
    elements = [element.strip(_OWS) for element in range_set.split(",")]
    specs = [element for element in elements if element]
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None:
        return None
    first_digits, last_digits = match.groups()
    if not first_digits:
        if not last_digits:
            return None
        return RangeSpec(first=None, last=None, suffix_length=_position(last_digits))
    if last_digits and _less_than(last_digits, first_digits):
        return None
    return RangeSpec(first=_position(first_digits), last=_position(last_digits) if last_digits else None)


def resolve_range(spec: Optional[RangeSpec], size: int) -> RangeDecision:
    """Check a range-spec against an object of ``size`` bytes: clamp ends past the size, or say 416."""
    if spec is None:
        return RangeDecision(WHOLE)
    if spec.first is None:
        suffix_length = spec.suffix_length or 0
        if suffix_length == 0:
            return RangeDecision(UNSATISFIABLE)
        if size == 0:
            # A non-zero suffix of an empty object is satisfiable but selects nothing: send the (empty) whole.
            return RangeDecision(WHOLE)
        return RangeDecision(PARTIAL, ByteRange(max(size - suffix_length, 0), size - 1))
    if spec.first >= size:
        return RangeDecision(UNSATISFIABLE)
    last = size - 1 if spec.last is None else min(spec.last, size - 1)
    return RangeDecision(PARTIAL, ByteRange(spec.first, last))


def decide(header: Optional[str], size: int) -> RangeDecision:
    """Parse a Range header and resolve it against an object of ``size`` bytes in one step."""
    return resolve_range(parse_range_spec(header), size)


def if_range_allows_partial(
    if_range: Optional[str], etag: Optional[str], last_modified: Optional[datetime]
) -> bool:
    """Evaluate If-Range (RFC 9110 13.1.5): True means the Range header may be honoured.

    An entity-tag must match strongly (weak tags never match); a date must equal Last-Modified exactly.
    Anything unparseable counts as a mismatch, so the client gets the whole current object, not a wrong piece.
    """
    if if_range is None:
        return True
    value = if_range.strip(_OWS)
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return etag is not None and not etag.startswith("W/") and value == etag
    if last_modified is None:
        return False
    timestamp = parse_http_date_safe(value)
    return timestamp is not None and timestamp == int(last_modified.timestamp())
