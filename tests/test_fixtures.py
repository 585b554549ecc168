"""The shared fixtures are real and correct: pysam reads its own output back, the indexes answer region
queries, the large-file generator is consistent, and SeaweedFS enforces SigV4 and serves exact ranges."""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

import pysam
import pytest
import requests
from botocore.exceptions import ClientError
from fixtures.reads import CONTIGS, ReadsFixture, large_file_chunks, large_file_range, write_large_file
from fixtures.seaweed import S3Credentials, SeaweedS3


def bgzf_block_count(path: Path) -> int:
    """Walk the BGZF blocks of a BAM by their BSIZE field (a malformed file raises)."""
    data = path.read_bytes()
    offset = count = 0
    while offset < len(data):
        assert data[offset : offset + 4] == b"\x1f\x8b\x08\x04", f"no BGZF block header at {offset}"
        extra_length = struct.unpack_from("<H", data, offset + 10)[0]
        extra = data[offset + 12 : offset + 12 + extra_length]
        assert extra[:2] == b"BC", "BGZF extra field missing"
        block_size = struct.unpack_from("<H", extra, 4)[0] + 1
        offset += block_size
        count += 1
    assert offset == len(data)
    return count


def test_bam_reads_back_sorted_and_spans_many_bgzf_blocks(reads: ReadsFixture) -> None:
    with pysam.AlignmentFile(str(reads.bam), "rb") as bam:
        records = list(bam)
        assert bam.references == tuple(CONTIGS)
    assert len(records) == reads.read_count >= 3000
    positions = [(r.reference_id, r.reference_start) for r in records]
    assert positions == sorted(positions)
    # igv.js range reads must cross block boundaries: data blocks plus the empty EOF block.
    assert bgzf_block_count(reads.bam) >= 6


def test_bam_index_fetches_a_region(reads: ReadsFixture) -> None:
    with pysam.AlignmentFile(str(reads.bam), "rb", index_filename=str(reads.bam_bai)) as bam:
        in_region = list(bam.fetch("chr2", 1000, 1200))
        everything_on_chr2 = bam.count("chr2")
    assert in_region, "no reads in chr2:1000-1200"
    assert all(r.reference_name == "chr2" and r.reference_start < 1200 for r in in_region)
    assert 0 < len(in_region) < everything_on_chr2


def test_bam_with_only_dot_bai_index(reads: ReadsFixture) -> None:
    assert reads.only_bai.name.endswith("_only_bai.bai")
    assert not Path(str(reads.bam_only_bai) + ".bai").exists()
    with pysam.AlignmentFile(str(reads.bam_only_bai), "rb", index_filename=str(reads.only_bai)) as bam:
        assert bam.count("chr1", 0, 500) > 0


def test_cram_reads_back_against_the_reference(reads: ReadsFixture) -> None:
    with pysam.AlignmentFile(
        str(reads.cram), "rc", reference_filename=str(reads.fasta), index_filename=str(reads.crai)
    ) as cram:
        assert cram.count("chr1") + cram.count("chr2") == reads.read_count
        first = next(cram.fetch("chr2", 2000, 2100))
    with pysam.FastaFile(str(reads.fasta)) as fasta:
        assert fasta.get_reference_length("chr1") == CONTIGS["chr1"]
        reference_bases = fasta.fetch("chr2", first.reference_start, first.reference_end)
    mismatches = sum(a != b for a, b in zip(first.query_sequence, reference_bases))
    assert mismatches == 1  # each read is the reference with one base changed


def test_large_file_matches_its_range_function(tmp_path: Path) -> None:
    size = 2 * 1024 * 1024 + 7
    path = write_large_file(tmp_path / "big.bin", size, seed=3)
    data = path.read_bytes()
    assert len(data) == size
    boundary = 1024 * 1024
    for first, last in [
        (0, 0),
        (boundary - 5, boundary + 5),
        (size - 10, size - 1),
        (0, size - 1),
        (10, size + 99),
    ]:
        assert large_file_range(size, first, last, seed=3) == data[first : last + 1]
    assert b"".join(large_file_chunks(size, seed=3)) == data
    assert large_file_range(size, 0, 99, seed=4) != data[:100], "the seed must change the content"
    with pytest.raises(ValueError):
        large_file_range(size, size, size + 1)


def test_reads_refuse_a_tiny_read_count(tmp_path: Path) -> None:
    from fixtures.reads import make_reads

    with pytest.raises(ValueError, match="read_count"):
        make_reads(tmp_path, read_count=3)


def _s3_error(call: object) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()  # type: ignore[operator]
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_seaweed_enforces_sigv4(s3_server: SeaweedS3, s3_bucket) -> None:
    key = s3_bucket["bam"].key
    wrong_secret = S3Credentials(s3_server.reader.access_key, "0" * 40)
    status, code = _s3_error(
        lambda: s3_server.client(wrong_secret).get_object(Bucket=s3_bucket.name, Key=key)
    )
    assert (status, code) == (403, "SignatureDoesNotMatch")
    unknown = S3Credentials("AKNOBODY", "x" * 40)
    assert _s3_error(lambda: s3_server.client(unknown).head_object(Bucket=s3_bucket.name, Key=key))[0] == 403
    unsigned = requests.get(f"{s3_server.endpoint_url}/{s3_bucket.name}/{key}", timeout=10)
    assert unsigned.status_code == 403


def test_seqr_identity_is_read_only(s3_server: SeaweedS3, s3_bucket) -> None:
    reader = s3_server.client(s3_server.reader)
    assert reader.head_object(Bucket=s3_bucket.name, Key=s3_bucket["bam"].key)["ContentLength"] > 0
    status, _ = _s3_error(lambda: reader.put_object(Bucket=s3_bucket.name, Key="reads/new.bam", Body=b"x"))
    assert status == 403


@pytest.mark.parametrize(
    ("range_header", "expected_slice", "status"),
    [
        ("bytes=0-99", slice(0, 100), 206),
        ("bytes=65530-65545", slice(65530, 65546), 206),
        ("bytes=-16", slice(-16, None), 206),
        ("bytes=300000-", slice(300000, None), 206),
        ("bytes=326000-999999999", slice(326000, None), 206),
    ],
)
def test_seaweed_serves_exact_ranges(
    s3_server: SeaweedS3, s3_bucket, range_header: str, expected_slice: slice, status: int
) -> None:
    bam = s3_bucket["unicode_bam"]
    expected = bam.read_local()[expected_slice]
    answer = s3_server.client(s3_server.reader).get_object(
        Bucket=s3_bucket.name, Key=bam.key, Range=range_header
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == status
    assert answer["Body"].read() == expected
    size = len(bam.read_local())
    assert answer["ContentRange"].endswith(f"/{size}")


def test_seaweed_answers_416_past_the_end(s3_server: SeaweedS3, s3_bucket) -> None:
    size = len(s3_bucket["bam"].read_local())
    reader = s3_server.client(s3_server.reader)
    status, _ = _s3_error(
        lambda: reader.get_object(Bucket=s3_bucket.name, Key=s3_bucket["bam"].key, Range=f"bytes={size}-")
    )
    assert status == 416


def test_bucket_holds_every_fixture_byte_for_byte(s3_server: SeaweedS3, s3_bucket) -> None:
    reader = s3_server.client(s3_server.reader)
    for logical_name, obj in s3_bucket.objects.items():
        head = reader.head_object(Bucket=s3_bucket.name, Key=obj.key)
        assert head["ContentLength"] == obj.local_path.stat().st_size, logical_name
    large = s3_bucket["large"]
    size = large.local_path.stat().st_size
    tail = reader.get_object(Bucket=s3_bucket.name, Key=large.key, Range="bytes=-1000")["Body"].read()
    assert tail == large_file_range(size, size - 1000, size - 1)


def test_nginx_fixture_fronts_the_standin_with_the_uri_unchanged(
    standin_factory, nginx_factory, seeded_session, reads
):
    """nginx from the role's template in front of the plain stand-in: the page keeps seqr's CSP, and an
    encoded absolute path reaches seqr intact (%2F not collapsed), so seqr's own range answer comes back."""
    from urllib.parse import quote

    nginx = nginx_factory(standin_factory(None), seqr_s3_mode="proxy")
    page = requests.get(nginx.base_url + "/", timeout=10)
    assert page.status_code == 200
    assert "style-src" in page.headers["Content-Security-Policy"]
    session = seeded_session(nginx, "collaborator")
    url = f"{nginx.base_url}/api/project/R0001_project_1/igv_track/{quote(str(reads.bam), safe='')}"
    answer = session.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert answer.status_code == 206
    assert answer.content == reads.bam.read_bytes()[10:20]


def test_standin_on_a_unix_socket_behind_nginx(tmp_path: Path) -> None:
    """Older seqr installs bind gunicorn to a unix socket with nginx in front (Molecule's seqr host does)."""
    from fixtures.nginx import start_nginx
    from fixtures.seaweed import free_loopback_ports
    from fixtures.standin import login_session, prepare_database, standin_env, start_standin

    env = standin_env(db_path=tmp_path / "db.sqlite3")
    seed = {"users": [{"username": "u", "email": "u@example.org", "password": "pw-unix-test"}]}
    prepare_database(env, seed, tmp_path)
    # nginx's workers run unprivileged and cannot enter pytest's 0700 temp folders: use a traversable one,
    # as a host gives the socket folder to nginx's group.
    socket_dir = Path(tempfile.mkdtemp(prefix="standin_sock_"))
    socket_dir.chmod(0o711)
    socket_path = socket_dir / "gunicorn.sock"
    standin = start_standin(tmp_path / "gunicorn", env, workers=1, bind=f"unix:{socket_path}")
    try:
        assert socket_path.is_socket()
        nginx = start_nginx(
            tmp_path / "nginx", standin.bind, free_loopback_ports(1)[0], {"seqr_s3_mode": "proxy"}
        )
        try:
            session = login_session(nginx.base_url, "u@example.org", "pw-unix-test")
            assert session.cookies.get("sessionid")
        finally:
            nginx.stop()
    finally:
        standin.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)
    assert standin.process.returncode is not None
