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
from typing import Any, Optional, Union

from . import s3
from .access import REFUSAL_STATUS, AccessRefused, check_allowed
from .audit import RULE_CONFIGURATION, RULE_INVALID_PATH, AuditRecord
from .config import ConfigError, load_settings
from .paths import InvalidS3Path, parse_s3_path
from .s3 import S3BodyStream

logger = logging.getLogger(__name__)


def s3_does_file_exist(file_path: str, user: Any = None) -> bool:
    """HEAD the object; True only when it is under ALLOWED_PREFIXES, exists and this host may read it.

    Callers (seqr's sample-path validation, VCF checks) expect a bool, never an exception: a malformed path,
    a path outside the allow-list (refused without any S3 request), a denial or an unreachable endpoint
    answer False and the reason is logged. Each answer leaves a line on the ``seqr_s3.audit`` logger.
    """
    record = AuditRecord("does_file_exist", file_path, user)
    try:
        settings = load_settings()
        record.set(mode=settings.mode)
        path = parse_s3_path(file_path)
        check_allowed(settings, path)
        record.allow()
        exists = s3.object_exists(settings, path)
    except AccessRefused as refused:
        logger.warning("seqr_s3: %s counts as missing: %s (no S3 request made)", file_path, refused.detail)
        record.refuse(refused.rule)
        exists = False
    except (InvalidS3Path, ConfigError, s3.S3Error) as error:
        logger.warning("seqr_s3: cannot tell whether %s exists: %s", file_path, error)
        if record.fields["decision"] is None:
            record.refuse(RULE_CONFIGURATION if isinstance(error, ConfigError) else RULE_INVALID_PATH)
        record.set(error=type(error).__name__)
        exists = False
    except Exception as error:
        # Callers expect a bool: an unforeseen failure counts as missing, and the operator's log says why.
        logger.exception(
            "seqr_s3: unexpected error telling whether %s exists: %s: %s",
            file_path,
            type(error).__name__,
            error,
        )
        record.set(error=type(error).__name__)
        exists = False
    record.emit(exists=exists)
    return exists


class S3PathNotAllowed(s3.S3Error, FileNotFoundError):
    """file_iter was asked for an s3:// path outside ALLOWED_PREFIXES (a FileNotFoundError, as seqr's
    file_iter raises for a file it cannot access); no S3 request was made."""

    status = REFUSAL_STATUS


def s3_file_iter(
    file_path: str,
    byte_range: Optional[tuple[int, int]] = None,
    raw_content: bool = False,
    user: Any = None,
) -> Iterator[Union[bytes, str]]:
    """Yield an object's bytes (raw_content) or text lines, like seqr's file_iter does for local files.

    A generator like seqr's own, so nothing happens until the first item is asked for; then a path outside
    ALLOWED_PREFIXES raises S3PathNotAllowed without any S3 request, and a missing object raises
    FileNotFoundError (S3NotFound), as seqr's does.
    """
    settings = load_settings()
    path = parse_s3_path(file_path)
    range_header = None
    if byte_range is not None:
        first, last = byte_range
        if first < 0 or last < first:
            raise ValueError(f"invalid byte_range {byte_range!r} for {file_path}: need 0 <= first <= last")
        range_header = f"bytes={first}-{last}"
    record = AuditRecord("file_iter", file_path, user, mode=settings.mode, range=range_header)
    try:
        check_allowed(settings, path)
    except AccessRefused as refused:
        logger.warning("seqr_s3: file_iter refused %s: %s (no S3 request made)", file_path, refused.detail)
        record.refuse(refused.rule)
        record.emit()
        raise S3PathNotAllowed(
            f"{file_path} is not under an allowed S3 prefix of this seqr (SEQR_S3 ALLOWED_PREFIXES); "
            "seqr_s3 does not read it",
            path,
        ) from None
    record.allow()
    record.emit()
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
