"""Pieces of the package that need no server: botocore error mapping, chunked S3 bodies, text decoding.

The exceptions are botocore's own classes and the bodies real byte streams (io.BytesIO has the read/close
interface of botocore's StreamingBody), so these exercise the same code paths a live S3 answer does.
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from hypothesis import given
from hypothesis import strategies as st
from seqr_s3 import s3
from seqr_s3.files import _gunzip, _text_lines
from seqr_s3.patch import describe_signature
from seqr_s3.paths import S3Path
from seqr_s3.s3 import S3BodyStream

PATH = S3Path("reads", "x.bam")


def client_error(code: str, status: int, operation: str = "Op") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.mark.parametrize(
    ("error", "kind", "status", "text"),
    [
        (client_error("NoSuchKey", 404), s3.S3NotFound, 404, "s3://reads/x.bam does not exist"),
        (client_error("", 404), s3.S3NotFound, 404, "does not exist"),
        (client_error("NoSuchBucket", 404), s3.S3NotFound, 404, "does not exist"),
        (client_error("AccessDenied", 403), s3.S3AccessDenied, 403, "S3 denied this server access"),
        (client_error("SignatureDoesNotMatch", 403), s3.S3AccessDenied, 403, "(SignatureDoesNotMatch)"),
        (client_error("InvalidAccessKeyId", 403), s3.S3AccessDenied, 403, "(InvalidAccessKeyId)"),
        (client_error("InvalidRange", 416), s3.S3RangeNotSatisfiable, 416, "outside"),
        (client_error("PreconditionFailed", 412), s3.S3Unavailable, 502, "changed while it was being read"),
        (client_error("InternalError", 500), s3.S3Unavailable, 502, "(InternalError)"),
        (client_error("SlowDown", 503), s3.S3Unavailable, 502, "(SlowDown)"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), s3.S3Unavailable, 502, "cannot reach"),
        (ConnectTimeoutError(endpoint_url="http://10.0.0.1"), s3.S3Timeout, 504, "did not answer in time"),
        (ReadTimeoutError(endpoint_url="http://10.0.0.1"), s3.S3Timeout, 504, "did not answer in time"),
        (NoCredentialsError(), s3.S3AccessDenied, 403, "no usable S3 credentials"),
        # The STS's answers to botocore's call for a role session (radosgw's refusals carry no code).
        (
            client_error("AccessDenied", 403, "AssumeRole"),
            s3.S3AccessDenied,
            403,
            "refused this server a role",
        ),
        (
            client_error("", 403, "AssumeRoleWithWebIdentity"),
            s3.S3AccessDenied,
            403,
            "for web_identity the token",
        ),
        (
            client_error("InvalidIdentityToken", 400, "AssumeRoleWithWebIdentity"),
            s3.S3AccessDenied,
            403,
            "(AssumeRoleWithWebIdentity: InvalidIdentityToken)",
        ),
        (client_error("ServiceUnavailable", 503, "AssumeRole"), s3.S3Unavailable, 502, "no role session"),
    ],
)
def test_botocore_errors_map_to_http_answers(error: Exception, kind: type, status: int, text: str) -> None:
    mapped = s3.translate_error(error, PATH, "read")
    assert type(mapped) is kind
    assert mapped.status == status
    assert text in str(mapped)


def test_missing_is_a_file_not_found_error_for_seqrs_callers() -> None:
    assert isinstance(s3.translate_error(client_error("NoSuchKey", 404), PATH, "read"), FileNotFoundError)


@given(data=st.binary(max_size=5000), chunk_size=st.integers(1, 700))
def test_body_stream_yields_every_byte_in_chunks(data: bytes, chunk_size: int) -> None:
    body = io.BytesIO(data)
    stream = S3BodyStream(body, chunk_size, PATH)
    chunks = list(stream)
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert stream.finished and stream.closed and body.closed


def test_closing_early_releases_the_body_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="seqr_s3")
    body = io.BytesIO(b"x" * 1000)
    stream = S3BodyStream(body, 100, PATH)
    next(stream)
    stream.close()
    stream.close()
    assert body.closed
    assert list(stream) == []
    assert "closed before its end, after 100 bytes" in caplog.text


class _BrokenBody(io.BytesIO):
    """A body whose connection drops after the first read, as botocore raises it."""

    def read(self, size: int | None = -1) -> bytes:
        if self.tell():
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1:1")
        return super().read(size)


def test_a_body_that_breaks_mid_stream_raises_the_mapped_error() -> None:
    stream = S3BodyStream(_BrokenBody(b"y" * 100), 10, PATH)
    assert next(stream) == b"y" * 10
    with pytest.raises(s3.S3Timeout):
        next(stream)
    assert stream.closed


def _lines(data: bytes, name: str, chunk_size: int) -> list[str]:
    return list(_text_lines(S3BodyStream(io.BytesIO(data), chunk_size, PATH), name))


def test_text_lines_survive_chunk_boundaries_inside_characters() -> None:
    text = "ünï\ncødé 样本\n\nlast line without newline"
    for chunk_size in (1, 2, 3, 7, 1000):
        assert _lines(text.encode(), "x.txt", chunk_size) == [
            "ünï\n",
            "cødé 样本\n",
            "\n",
            "last line without newline",
        ]


def test_gz_text_is_gunzipped_across_members() -> None:
    # bgzip writes many gzip members back to back; all of them count.
    data = gzip.compress(b"first\nsec") + gzip.compress(b"ond\nthird\n")
    for chunk_size in (1, 5, 1000):
        assert _lines(data, "x.vcf.gz", chunk_size) == ["first\n", "second\n", "third\n"]


def test_a_cut_gzip_stream_keeps_what_decompressed() -> None:
    payload = b"".join(f"line {n}\n".encode() for n in range(5000))
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    whole = compressor.compress(payload) + compressor.flush()
    cut = whole[: len(whole) // 2]
    out = b"".join(_gunzip(iter([cut[i : i + 100] for i in range(0, len(cut), 100)]), "x.gz"))
    assert 0 < len(out) < len(payload)
    assert payload.startswith(out)


def test_corrupt_gzip_stops_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    assert b"".join(_gunzip(iter([b"this is not gzip at all"]), "x.gz")) == b""
    assert "is not valid gzip" in caplog.text


def test_signatures_are_compared_without_annotations() -> None:
    def annotated(
        file_path: str, byte_range: tuple | None = None, *, user: object = None, **kwargs: int
    ) -> int:
        return 0

    assert describe_signature(annotated) == "(file_path, byte_range=None, *, user=None, **kwargs)"


def _get_answer(status: int, **fields: object) -> dict:
    """The shape of a botocore get_object answer (keys as botocore names them)."""
    return {"ResponseMetadata": {"HTTPStatusCode": status}, "ETag": '"e1"', "ContentType": "x/y", **fields}


@pytest.mark.parametrize(
    ("answer", "size"),
    [
        (_get_answer(200, ContentLength=5000), 5000),
        (_get_answer(200, ContentLength=0), 0),
        (_get_answer(206, ContentLength=100, ContentRange="bytes 0-99/5000"), 5000),
        (_get_answer(206, ContentLength=1, ContentRange="bytes 4999-4999/5000"), 5000),
        # The size is unknown or the answer is not an object's bytes: the caller asks with a HEAD instead.
        (_get_answer(206, ContentLength=100, ContentRange="bytes 0-99/*"), None),
        (_get_answer(206, ContentLength=100), None),
        (_get_answer(200, ContentLength=100, ContentRange="bytes 0-99/5000"), None),
        (_get_answer(304, ContentLength=0), None),
    ],
)
def test_a_get_answer_tells_the_objects_size_only_when_it_can(answer: dict, size: int | None) -> None:
    info = s3.info_from_get(answer)
    if size is None:
        assert info is None
        return
    assert info is not None
    assert (info.size, info.etag, info.content_type) == (size, '"e1"', "x/y")
