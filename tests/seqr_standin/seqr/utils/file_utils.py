"""seqr's file helpers (``seqr.utils.file_utils``): module-level functions with upstream's signatures.

Local paths behave as upstream; Google Storage paths go through ``gsutil`` as upstream does, and fail with a
clear error where gsutil is not installed (it never is on a stand-in host). Anything else, ``s3://`` included,
is treated as a local path: ``does_file_exist`` is False for it, exactly as in seqr today.
"""

from __future__ import annotations

import glob
import gzip
import logging
import os
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

# How much of a local file one read takes when serving a byte range.
_RANGE_READ_SIZE = 65536


def run_command(command: str, user: Any = None, pipe_errors: bool = False) -> subprocess.Popen:
    """Start ``command`` in a shell (upstream's contract: callers pass trusted, pre-quoted commands)."""
    logger.info("==> %s", command)
    # Upstream runs gsutil pipelines through a shell.
    return subprocess.Popen(  # noqa: S602
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if pipe_errors else subprocess.STDOUT,
        shell=True,
    )


def is_google_bucket_file_path(file_path: str) -> bool:
    return file_path.startswith("gs://")


def get_google_project(gs_path: str) -> str | None:
    """The project billed for a requester-pays bucket (AnVIL's secure buckets), else None."""
    return "anvil-datastorage" if gs_path.startswith("gs://fc-secure") else None


def _run_gsutil_command(
    command: str,
    gs_path: str,
    gunzip: bool = False,
    user: Any = None,
    pipe_errors: bool = False,
    no_project: bool = False,
    additional_args: str = "",
) -> subprocess.Popen:
    if not is_google_bucket_file_path(gs_path):
        raise Exception("A Google Storage path is expected.")
    # Upstream would simply fail inside the shell; here the missing tool is named.
    if shutil.which("gsutil") is None:
        raise RuntimeError(
            "gsutil is not available in the seqr stand-in: Google Storage paths cannot be read"
        )
    google_project = None if no_project else get_google_project(gs_path)
    project_arg = f"-u {google_project} " if google_project else ""
    full_command = f"gsutil {project_arg}{command} {gs_path}{additional_args}"
    if gunzip:
        full_command += " | gunzip -c -q - "
    return run_command(full_command, user=user, pipe_errors=pipe_errors)


def does_file_exist(file_path: str, user: Any = None) -> bool:
    """True when the file exists: ``gsutil ls`` for gs:// paths, ``os.path.isfile`` for everything else."""
    if is_google_bucket_file_path(file_path):
        process = _run_gsutil_command("ls", file_path, user=user)
        success = process.wait() == 0
        if not success:
            logger.warning(" ".join(line.decode("utf-8").strip() for line in process.stdout))
        return success
    return os.path.isfile(file_path)


def list_files(
    wildcard_path: str, user: Any, check_subfolders: bool = False, allow_missing: bool = True
) -> list:
    """Files matching a glob (``**`` below the path when ``check_subfolders``)."""
    if check_subfolders:
        wildcard_path = f"{wildcard_path.rstrip('/')}/**"
    if is_google_bucket_file_path(wildcard_path):
        return _get_gs_file_list(wildcard_path, user, check_subfolders, allow_missing)
    return [path for path in glob.glob(wildcard_path, recursive=check_subfolders) if os.path.isfile(path)]


def _get_gs_file_list(gs_path: str, user: Any, check_subfolders: bool, allow_missing: bool) -> list:
    gs_path = gs_path.rstrip("/")
    if check_subfolders and not _run_gsutil_with_stdout("ls", gs_path.replace("/**", ""), user):
        return []
    lines = _run_gsutil_with_stdout("ls", gs_path, user, allow_missing=allow_missing)
    return [line for line in lines if is_google_bucket_file_path(line)]


def _run_gsutil_with_stdout(
    command: str, gs_path: str, user: Any = None, allow_missing: bool = False
) -> list:
    process = _run_gsutil_command(command, gs_path, user=user, pipe_errors=True)
    output, errs = process.communicate()
    if errs:
        errors = errs.decode("utf-8").strip().replace("\n", " ")
        if not allow_missing:
            raise Exception(f"Run command failed: {errors}")
        logger.info(errors)
    return [line for line in output.decode("utf-8").split("\n") if line]


def _local_range_lines(file_path: str, first: int, last: int) -> Iterator[bytes]:
    """Bytes ``first``..``last`` (inclusive) of a local file, split into lines as upstream's ``dd`` pipe is.

    Upstream gunzips a range of any path ending in "gz" (seqr reads the head of a .vcf.gz this way).
    """
    remaining = last - first + 1
    gunzip = zlib.decompressobj(zlib.MAX_WBITS | 16) if file_path.endswith("gz") else None
    pending = b""
    with open(file_path, "rb") as f:
        f.seek(first)
        while remaining > 0:
            block = f.read(min(_RANGE_READ_SIZE, remaining))
            if not block:
                break
            remaining -= len(block)
            if gunzip is not None:
                try:
                    block = gunzip.decompress(block)
                except zlib.error:
                    break  # like `gunzip -c -` on a cut stream: keep what decompressed
            pending += block
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
    if pending:
        yield pending


def _google_bucket_file_iter(
    gs_path: str, byte_range: tuple | None = None, raw_content: bool = False, user: Any = None, **kwargs: Any
) -> Iterator:
    range_arg = f" -r {byte_range[0]}-{byte_range[1]}" if byte_range else ""
    process = _run_gsutil_command(
        f"cat{range_arg}", gs_path, gunzip=gs_path.endswith("gz") and not raw_content, user=user, **kwargs
    )
    for line in process.stdout:
        yield line if raw_content else line.decode("utf-8")


def file_iter(
    file_path: str,
    byte_range: tuple | None = None,
    raw_content: bool = False,
    user: Any = None,
    **kwargs: Any,
) -> Iterator:
    """Iterate over a file's content: ``byte_range=(first, last)`` is inclusive; ``raw_content`` gives bytes,
    otherwise text lines (``*.gz`` gunzipped). Raises FileNotFoundError when ``does_file_exist`` says no.

    ``does_file_exist`` is looked up in this module when the generator starts, as upstream.
    """
    if not does_file_exist(file_path, user=user):
        raise FileNotFoundError(f"Could not access file {file_path}")
    if is_google_bucket_file_path(file_path):
        yield from _google_bucket_file_iter(
            file_path, byte_range=byte_range, raw_content=raw_content, user=user, **kwargs
        )
    elif byte_range:
        # Upstream yields bytes for ranges whatever raw_content says.
        yield from _local_range_lines(file_path, byte_range[0], byte_range[1])
    else:
        is_gz = file_path.endswith("gz")
        if is_gz:
            with gzip.open(file_path, "rb") as f:
                for line in f:
                    yield line if raw_content else line.decode("utf-8")
        else:
            with open(file_path, "rb" if raw_content else "r") as f:
                yield from f


def run_gsutil_with_wait(command: str, gs_path: str, user: Any = None, **kwargs: Any) -> subprocess.Popen:
    """Run a gsutil command on ``gs_path`` and raise with its output when it fails."""
    process = _run_gsutil_command(command, gs_path, user=user, **kwargs)
    if process.wait() != 0:
        errors = [line.decode("utf-8").strip() for line in process.stdout]
        raise Exception("Run command failed: " + " ".join(errors))
    return process


def mv_file_to_gs(local_path: str, gs_path: str, user: Any = None) -> None:
    run_gsutil_with_wait(f"mv {local_path}", gs_path, user)
