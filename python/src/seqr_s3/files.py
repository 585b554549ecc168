"""seqr's file_utils contract (does_file_exist, file_iter) for s3:// paths.

seqr uses these two functions for more than IGV: loading VCF headers, checking BAM/CRAM paths, reports. The
s3 variants keep their contract: existence by HEAD, ``byte_range=(first, last)`` inclusive, bytes with
``raw_content=True``, otherwise text lines with ``*.gz`` gunzipped (multi-member, so bgzip files work too).
"""

from __future__ import annotations

import codecs
import logging
import zlib
from collections.abc import Iterator
from typing import Optional, Union

from . import s3
from .config import ConfigError, load_settings
from .paths import InvalidS3Path, parse_s3_path
from .s3 import S3BodyStream

logger = logging.getLogger(__name__)


def s3_does_file_exist(file_path: str) -> bool:
    """HEAD the object; True only when it exists and this host may read it.

    Callers (seqr's .bam.bai -> .bai fallback, its sample-path validation) expect a bool, never an exception:
    a malformed path, a denial or an unreachable endpoint answer False and the reason is logged.
    """
    try:
        return s3.object_exists(load_settings(), parse_s3_path(file_path))
    except (InvalidS3Path, ConfigError, s3.S3Error) as error:
        logger.warning("seqr_s3: cannot tell whether %s exists: %s", file_path, error)
        return False


def s3_file_iter(
    file_path: str, byte_range: Optional[tuple[int, int]] = None, raw_content: bool = False
) -> Iterator[Union[bytes, str]]:
    """Yield an object's bytes (raw_content) or text lines, like seqr's file_iter does for local files.

    A generator like seqr's own, so nothing happens until the first item is asked for; then a missing object
    raises FileNotFoundError (S3NotFound), as seqr's does.
    """
    settings = load_settings()
    path = parse_s3_path(file_path)
    range_header = None
    if byte_range is not None:
        first, last = byte_range
        if first < 0 or last < first:
            raise ValueError(f"invalid byte_range {byte_range!r} for {file_path}: need 0 <= first <= last")
        range_header = f"bytes={first}-{last}"
    try:
        response = s3.get_object(settings, path, range_header=range_header)
    except s3.S3RangeNotSatisfiable:
        # The object exists but is shorter than byte_range's start: like reading past a local file's end.
        return
    stream = S3BodyStream(response["Body"], settings.chunk_size, path)
    if raw_content:
        yield from _raw_chunks(stream)
    else:
        yield from _text_lines(stream, file_path)


def _raw_chunks(stream: S3BodyStream) -> Iterator[bytes]:
    try:
        yield from stream
    finally:
        stream.close()


def _gunzip(chunks: Iterator[bytes], file_path: str) -> Iterator[bytes]:
    """Decompress gzip data incrementally, member after member (bgzip files are many members).

    A byte range of a .gz usually ends inside a member: what decompressed so far is kept and the rest dropped,
    as seqr's own range reads (``gunzip -c -q``) do. Corrupt data stops the output too, with a log line.
    """
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    for chunk in chunks:
        while chunk:
            try:
                yield decompressor.decompress(chunk)
            except zlib.error as error:
                logger.warning(
                    "seqr_s3: %s is not valid gzip from here on (%s); output stops", file_path, error
                )
                return
            if not decompressor.eof:
                break
            # A member ended; whatever follows belongs to the next one.
            chunk = decompressor.unused_data
            decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)


def _text_lines(stream: S3BodyStream, file_path: str) -> Iterator[str]:
    """Text lines (each with its newline) decoded as UTF-8, gunzipped first for ``*.gz``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    try:
        chunks: Iterator[bytes] = iter(stream)
        if file_path.endswith(".gz"):
            chunks = _gunzip(chunks, file_path)
        for chunk in chunks:
            pending += decoder.decode(chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending
    finally:
        stream.close()
