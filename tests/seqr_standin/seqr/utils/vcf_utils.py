"""A slice of seqr's ``seqr.utils.vcf_utils``: reading a VCF's header through ``file_iter``.

It exists because upstream binds ``file_iter`` and ``does_file_exist`` here with ``from ... import``: a
patch of ``seqr.utils.file_utils`` alone would not reach these copies; seqr_s3's tests need such a module.
"""

from __future__ import annotations

from typing import Any

from seqr.utils.file_utils import does_file_exist, file_iter
from seqr.utils.middleware import ErrorsWarningsException

# Upstream reads the first 64 KiB of a compressed VCF to find its header.
BLOCK_SIZE = 65536
VCF_FILE_EXTENSIONS = (".vcf", ".vcf.gz", ".vcf.bgz")
REQUIRED_HEADERS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]


def validate_vcf_exists(data_path: str, user: Any) -> str:
    """``data_path`` if it names an existing VCF, else a user-facing error."""
    if not data_path.endswith(VCF_FILE_EXTENSIONS):
        raise ErrorsWarningsException(
            ["Invalid VCF file format - file path must end with {}".format(" or ".join(VCF_FILE_EXTENSIONS))]
        )
    if not does_file_exist(data_path, user=user):
        raise ErrorsWarningsException([f"Data file or path {data_path} is not found."])
    return data_path


def validate_vcf_and_get_samples(data_path: str, user: Any) -> set:
    """The sample IDs of a VCF, read from its ``#CHROM`` line (whole file for .vcf, first block otherwise)."""
    vcf_filename = validate_vcf_exists(data_path, user)
    byte_range = None if vcf_filename.endswith(".vcf") else (0, BLOCK_SIZE)
    try:
        header_line = next(
            line_str
            for line_str in (
                line.decode() if isinstance(line, bytes) else line
                for line in file_iter(vcf_filename, byte_range=byte_range, user=user)
            )
            if line_str.startswith("#CHROM")
        )
    except FileNotFoundError as e:
        raise ErrorsWarningsException([f"Data file or path {data_path} is not found."], []) from e
    except StopIteration as e:
        raise ErrorsWarningsException(["No header found in the VCF file."], []) from e
    header_cols = header_line.rstrip().split("\t")
    missing = [h for h in REQUIRED_HEADERS if h not in header_cols]
    if missing:
        raise ErrorsWarningsException([f"Missing required VCF header field(s) {', '.join(missing)}."], [])
    samples = set(header_cols[header_cols.index("FORMAT") + 1 :])
    if not samples:
        raise ErrorsWarningsException(["No samples found in the provided VCF."], [])
    return samples
