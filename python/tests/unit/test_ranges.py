"""RFC 9110 single-range handling, checked by example and against a brute-force model."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqr_s3.ranges import (
    PARTIAL,
    UNSATISFIABLE,
    WHOLE,
    ByteRange,
    decide,
    if_range_allows_partial,
    parse_range_spec,
    unsatisfiable_content_range,
)


def model(header: Optional[str], size: int) -> tuple[str, Optional[list[int]]]:
    """What RFC 9110 says, computed the slow way: which byte offsets of range(size) the header selects.

    Returns ("whole", None), ("unsatisfiable", None) or ("partial", offsets).
    """
    if header is None:
        return WHOLE, None
    # One range-spec, optionally surrounded by empty list elements and optional whitespace.
    match = re.fullmatch(r"[ \t]*(?i:bytes)=[ \t,]*?([0-9]*)-([0-9]*)[ \t,]*", header)
    if match is None or "," in header.split("=", 1)[1].strip(" \t,").replace(" ", ""):
        return WHOLE, None
    first_text, last_text = match.groups()
    offsets = list(range(size))
    if first_text == "":
        if last_text == "":
            return WHOLE, None
        count = int(last_text)
        if count == 0:
            return UNSATISFIABLE, None
        if size == 0:
            return WHOLE, None
        return PARTIAL, offsets[-count:]
    first = int(first_text)
    last = int(last_text) if last_text else None
    if last is not None and last < first:
        return WHOLE, None
    selected = [offset for offset in offsets if offset >= first and (last is None or offset <= last)]
    if not selected:
        return UNSATISFIABLE, None
    return PARTIAL, selected


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, (WHOLE, None)),
        ("", 100, (WHOLE, None)),
        ("bytes=0-0", 100, (PARTIAL, (0, 0))),
        ("bytes=0-99", 100, (PARTIAL, (0, 99))),
        ("bytes=10-19", 100, (PARTIAL, (10, 19))),
        ("bytes=10-", 100, (PARTIAL, (10, 99))),
        ("bytes=-10", 100, (PARTIAL, (90, 99))),
        ("bytes=-1000", 100, (PARTIAL, (0, 99))),
        ("bytes=50-1000", 100, (PARTIAL, (50, 99))),
        ("bytes=99-", 100, (PARTIAL, (99, 99))),
        ("BYTES=1-2", 100, (PARTIAL, (1, 2))),
        ("bytes=007-009", 100, (PARTIAL, (7, 9))),
        (" bytes=1-2 ", 100, (PARTIAL, (1, 2))),
        ("bytes=1-2,", 100, (PARTIAL, (1, 2))),
        ("bytes=, 1-2", 100, (PARTIAL, (1, 2))),
        ("bytes=100-", 100, (UNSATISFIABLE, None)),
        ("bytes=100-200", 100, (UNSATISFIABLE, None)),
        ("bytes=-0", 100, (UNSATISFIABLE, None)),
        ("bytes=0-0", 0, (UNSATISFIABLE, None)),
        ("bytes=-5", 0, (WHOLE, None)),
        ("bytes=5-1", 100, (WHOLE, None)),
        ("bytes=0-1,5-6", 100, (WHOLE, None)),
        ("bytes=-", 100, (WHOLE, None)),
        ("bytes=a-b", 100, (WHOLE, None)),
        ("bytes=1-2-3", 100, (WHOLE, None)),
        ("bytes=+1-2", 100, (WHOLE, None)),
        ("bytes=1 - 2", 100, (WHOLE, None)),
        ("bytes 1-2", 100, (WHOLE, None)),
        ("items=1-2", 100, (WHOLE, None)),
        ("bytes=", 100, (WHOLE, None)),
        ("bytes=\u0661-\u0662", 100, (WHOLE, None)),  # Arabic-Indic digits are not DIGIT
        ("bytes=0-" + "9" * 5000, 100, (PARTIAL, (0, 99))),
        ("bytes=" + "9" * 5000 + "-", 100, (UNSATISFIABLE, None)),
        ("bytes=-" + "9" * 5000, 100, (PARTIAL, (0, 99))),
        ("bytes=" + "9" * 5000 + "-" + "9" * 4999, 100, (WHOLE, None)),
        ("bytes=" + "8" * 5000 + "-" + "9" * 5000, 100, (UNSATISFIABLE, None)),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_examples(header: Optional[str], size: int, expected: tuple[str, Optional[tuple[int, int]]]) -> None:
    decision = decide(header, size)
    kind, bounds = expected
    assert decision.kind == kind
    if bounds is None:
        assert decision.byte_range is None
    else:
        assert decision.byte_range == ByteRange(*bounds)


def test_header_values() -> None:
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"
    assert ByteRange(10, 19).length == 10
    assert ByteRange(10, 19).as_request_header() == "bytes=10-19"
    assert unsatisfiable_content_range(100) == "bytes */100"


_number_text = st.one_of(
    st.just(""), st.integers(0, 250).map(str), st.from_regex(r"0{1,3}[0-9]{1,3}", fullmatch=True)
)
_whitespace = st.sampled_from(["", " ", "\t", "  "])
_unit = st.sampled_from(["bytes", "BYTES", "Bytes", "byte", "bits", ""])


@st.composite
def range_headers(draw: st.DrawFn) -> str:
    """Headers near the grammar: mostly valid single ranges, with multi-range, junk and spacing mixed in."""
    specs = [
        draw(_whitespace)
        + draw(_number_text)
        + draw(st.sampled_from(["-", "-", "--", ""]))
        + draw(_number_text)
        for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3])))
    ]
    separator = draw(st.sampled_from([",", ", ", " ,", ",,"]))
    trailer = draw(st.sampled_from(["", "", ",", " ", "x"]))
    return (
        draw(_whitespace)
        + draw(_unit)
        + draw(st.sampled_from(["=", "=", " =", ":"]))
        + separator.join(specs)
        + trailer
    )


@given(header=range_headers(), size=st.integers(0, 200))
def test_agrees_with_the_model(header: str, size: int) -> None:
    decision = decide(header, size)
    kind, offsets = model(header, size)
    assert decision.kind == kind, header
    if kind == PARTIAL:
        assert decision.byte_range is not None
        assert list(range(decision.byte_range.first, decision.byte_range.last + 1)) == offsets


@given(header=st.text(max_size=40), size=st.integers(0, 10**13))
def test_any_text_gives_a_sane_decision(header: str, size: int) -> None:
    decision = decide(header, size)
    if decision.kind == PARTIAL:
        assert decision.byte_range is not None
        assert 0 <= decision.byte_range.first <= decision.byte_range.last < size
        assert decision.byte_range.length <= size
    else:
        assert decision.byte_range is None


@given(first=st.integers(0, 10**15), last=st.integers(0, 10**15), size=st.integers(1, 10**15))
def test_large_int_ranges_clamp(first: int, last: int, size: int) -> None:
    decision = decide(f"bytes={first}-{last}", size)
    if last < first:
        assert decision.kind == WHOLE
    elif first >= size:
        assert decision.kind == UNSATISFIABLE
    else:
        assert decision.byte_range == ByteRange(first, min(last, size - 1))


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("bytes=5-9", "bytes=5-9"),
        ("BYTES=005-9,", "bytes=5-9"),
        ("bytes= 7-", "bytes=7-"),
        ("bytes=-0", "bytes=-0"),
    ],
)
def test_canonical_form_for_upstream(header: str, canonical: str) -> None:
    spec = parse_range_spec(header)
    assert spec is not None
    assert spec.as_request_header() == canonical


def test_parse_spec_without_size() -> None:
    assert parse_range_spec("bytes=5-") is not None
    assert parse_range_spec("bytes=5-").last is None  # type: ignore[union-attr]
    assert parse_range_spec("bytes=-5").suffix_length == 5  # type: ignore[union-attr]
    assert parse_range_spec("bytes=5-4") is None


MODIFIED = datetime(2026, 11, 25, 9, 30, 0, tzinfo=timezone.utc)
ETAG = '"0123456789abcdef"'


@pytest.mark.parametrize(
    ("if_range", "etag", "allowed"),
    [
        (None, ETAG, True),
        (ETAG, ETAG, True),
        (f" {ETAG} ", ETAG, True),
        ('"other"', ETAG, False),
        (f"W/{ETAG}", ETAG, False),
        (ETAG, f"W/{ETAG}", False),
        (ETAG, None, False),
        ("Wed, 25 Nov 2026 09:30:00 GMT", ETAG, True),
        ("Wednesday, 25-Nov-26 09:30:00 GMT", ETAG, True),
        ("Wed Nov 25 09:30:00 2026", ETAG, True),
        ("Wed, 25 Nov 2026 09:30:01 GMT", ETAG, False),
        ("Wed, 25 Nov 2026 09:29:59 GMT", ETAG, False),
        ("not a date", ETAG, False),
    ],
)
def test_if_range(if_range: Optional[str], etag: Optional[str], allowed: bool) -> None:
    assert if_range_allows_partial(if_range, etag, MODIFIED) is allowed


def test_if_range_date_without_last_modified_is_a_mismatch() -> None:
    assert if_range_allows_partial("Wed, 25 Nov 2026 09:30:00 GMT", ETAG, None) is False
