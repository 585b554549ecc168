"""Controller-side data of the Molecule scenario: fixtures, the seqr seed, the S3 upload, the stand-in copy.

prepare.yml calls this instead of holding the logic in YAML, so the same manifest drives prepare (what to
upload and seed) and verify (what to request and which bytes to expect). Everything lives in the scenario's
state folder under Molecule's ephemeral directory, never in the repository.

    scenario_data.py make STATE_DIR            fixtures (pysam), manifest.json, seed.json, seqr login
    scenario_data.py stage-standin STATE_DIR   clean archive of tests/seqr_standin (no DB, key or caches)
    scenario_data.py igv STATE_DIR             igv.js at seqr's pin from npm, for the checkout's static files
    scenario_data.py upload STATE_DIR ENDPOINT buckets + objects on the S3 store (keys from STATE_DIR)
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR / "tests"))
sys.path.insert(0, str(PROJECT_DIR / "tests" / "igv"))  # igv_css_support: how the browser tests get igv.js

BUCKET = "seqr-reads"  # the allow-listed bucket (molecule.yml: seqr_s3_allowed_prefixes)
OTHER_BUCKET = "seqr-private"  # readable with the same keys, but outside the allow-list
LARGE_SIZE = 256 * 1024 * 1024 + 54321  # >= 256 MiB and not a multiple of any block size
PROJECT = "R0001_reads"
OTHER_PROJECT = "R0002_other"
USER = "analyst"
OTHER_USER = "other_analyst"
# A seqr data manager (is_staff): who may add IGV paths to an individual (real_seqr's test_60_add_igv_paths).
MANAGER = "data_manager"
UNICODE_KEY = "reads/with space/sämple ünïcode Ωmega.bam"
# Registered to PROJECT but never uploaded: the object seqr_s3_audit must report missing.
MISSING_KEY = "reads/audit/never-uploaded.bam"
# igv.js as seqr pins it (and the role's default seqr_s3_igv_version): prepare puts its build into the
# checkout's static files, where seqr's UI build leaves it.
SEQR_IGV_VERSION = "2.10.5"
# The stand-in's IGV page as the demo prints it and verify opens it: the BAM (I0001) and the CRAM with its own
# .crai (I0003) of PROJECT, at a locus both cover with many reads.
IGV_PAGE_INDIVIDUALS = ("I0001", "I0003")
IGV_LOCUS = "chr1:1000-1400"


def _object(key: str, local: Path, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "key": key,
        "uri": f"s3://{bucket}/{key}",
        "file": str(local),
        "size": local.stat().st_size,
    }


def make(state_dir: Path) -> None:
    """Write the fixtures, the manifest verify reads, and the seed document the stand-in loads."""
    from fixtures.reads import make_reads, write_large_file

    fixtures_dir = state_dir / "fixtures"
    reads = make_reads(fixtures_dir)
    large = write_large_file(fixtures_dir / "large.bam", LARGE_SIZE, seed=7)
    unicode_bam = fixtures_dir / "unicode.bam"
    shutil.copyfile(reads.bam, unicode_bam)
    shutil.copyfile(reads.bam_bai, fixtures_dir / "unicode.bam.bai")
    other_bam = fixtures_dir / "other.bam"
    shutil.copyfile(reads.bam, other_bam)
    shutil.copyfile(reads.bam_bai, fixtures_dir / "other.bam.bai")

    objects = {
        "bam": _object("reads/sample.bam", reads.bam),
        "bam_bai": _object("reads/sample.bam.bai", reads.bam_bai),
        "only_bai_bam": _object("reads/sample_only_bai.bam", reads.bam_only_bai),
        "only_bai": _object("reads/sample_only_bai.bai", reads.only_bai),
        "cram": _object("reads/sample.cram", reads.cram),
        "crai": _object("reads/sample.cram.crai", reads.crai),
        "fasta": _object("reads/reference.fa", reads.fasta),
        "fai": _object("reads/reference.fa.fai", reads.fai),
        "unicode_bam": _object(UNICODE_KEY, unicode_bam),
        "unicode_bai": _object(UNICODE_KEY + ".bai", fixtures_dir / "unicode.bam.bai"),
        "large": _object("large/large_sample.bam", large),
        "other_project_bam": _object("other/other_sample.bam", other_bam),
        "other_project_bai": _object("other/other_sample.bam.bai", fixtures_dir / "other.bam.bai"),
        "outside": _object("private/outside.bam", reads.bam, bucket=OTHER_BUCKET),
    }
    password_file = state_dir / "seqr_password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(18))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()

    # IgvSample rows: the tracks igv.js may open in PROJECT, one in OTHER_PROJECT, one outside the allow-list;
    # the large object has no index and S0007's object does not exist (seqr_s3_audit's problems to find).
    missing_uri = f"s3://{BUCKET}/{MISSING_KEY}"
    samples = [
        ("S0001", "I0001", objects["bam"]["uri"], None),
        ("S0002", "I0002", objects["only_bai_bam"]["uri"], None),
        ("S0003", "I0003", objects["cram"]["uri"], objects["crai"]["uri"]),
        ("S0004", "I0004", objects["unicode_bam"]["uri"], None),
        ("S0005", "I0005", objects["large"]["uri"], None),
        ("S0006", "I0006", objects["outside"]["uri"], None),
        ("S0007", "I0007", missing_uri, None),
        ("S0101", "I0101", objects["other_project_bam"]["uri"], None),
    ]
    seed = {
        "users": [
            {"username": USER, "email": f"{USER}@example.org", "password": password},
            {"username": OTHER_USER, "email": f"{OTHER_USER}@example.org", "password": password},
            {"username": MANAGER, "email": f"{MANAGER}@example.org", "password": password, "is_staff": True},
        ],
        "projects": [
            {"guid": PROJECT, "name": "S3 reads", "collaborators": [USER]},
            {"guid": OTHER_PROJECT, "name": "Another lab", "collaborators": [OTHER_USER]},
        ],
        "families": [
            {"guid": "F0001", "project": PROJECT, "family_id": "fam1"},
            {"guid": "F0101", "project": OTHER_PROJECT, "family_id": "fam101"},
        ],
        "individuals": [
            {
                "guid": individual,
                "family": "F0101" if individual >= "I0100" else "F0001",
                "individual_id": individual,
            }
            for _sample, individual, _path, _index in samples
        ],
        "igv_samples": [
            {
                "guid": sample,
                "individual": individual,
                "sample_type": "alignment",
                "file_path": path,
                "index_file_path": index,
            }
            for sample, individual, path, index in samples
        ],
    }
    manifest = {
        "bucket": BUCKET,
        "other_bucket": OTHER_BUCKET,
        "project": PROJECT,
        "other_project": OTHER_PROJECT,
        "user_email": f"{USER}@example.org",
        "other_user_email": f"{OTHER_USER}@example.org",
        "manager_email": f"{MANAGER}@example.org",
        "large_seed": 7,
        "objects": objects,
        "missing_uri": missing_uri,
    }
    (state_dir / "seed.json").write_text(json.dumps(seed, indent=2))
    (state_dir / "seed.json").chmod(0o600)
    (state_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    print(f"made {len(objects)} fixture objects in {fixtures_dir}")


def stage_standin(state_dir: Path) -> None:
    """Copy the stand-in checkout without what running it leaves behind (database, Django key, caches)."""
    target = state_dir / "standin"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        PROJECT_DIR / "tests" / "seqr_standin",
        target,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "django_key", "static"),
    )
    # One archive: copying a folder file by file through the podman connection takes minutes.
    shutil.make_archive(str(state_dir / "standin"), "gztar", root_dir=target)
    print(f"staged the stand-in in {target}.tar.gz")


def igv_build(state_dir: Path) -> Path:
    """Where `igv` leaves seqr's pin of igv.js on the controller: the ES module build seqr's UI imports."""
    from igv_css_support import IGV_ESM_BUILD

    return state_dir / "igv" / "node_modules" / "igv" / IGV_ESM_BUILD


def install_seqr_igv(state_dir: Path) -> None:
    """npm-install igv@SEQR_IGV_VERSION under STATE_DIR/igv (once; npm answers from its cache when it can)."""
    from igv_css_support import install_igv

    if igv_build(state_dir).is_file():
        print(f"igv {SEQR_IGV_VERSION} already present")
        return
    work = state_dir / "igv"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    install_igv(SEQR_IGV_VERSION, work)
    print(f"installed igv {SEQR_IGV_VERSION}")


def container_address(name: str) -> str:
    """A scenario container's address on podman's network (the controller reaches it directly)."""
    result = subprocess.run(
        ["podman", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"container {name!r} is not running: {result.stderr.strip() or 'no address'}")
    return result.stdout.strip()


def s3_client(state_dir: Path, endpoint: str, service: str = "s3") -> Any:
    """A boto3 client for the scenario's radosgw user (keys read from the state folder, never printed): S3, or
    another API radosgw serves on the same endpoint (``service="iam"``)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=(state_dir / "s3_access_key").read_text().strip(),
        aws_secret_access_key=(state_dir / "s3_secret_key").read_text().strip(),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def upload(state_dir: Path, endpoint: str) -> None:
    """Create both buckets and upload every object of the manifest that is missing or has another size."""
    from botocore.exceptions import ClientError

    manifest = json.loads((state_dir / "manifest.json").read_text())
    client = s3_client(state_dir, endpoint)
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    for bucket in (manifest["bucket"], manifest["other_bucket"]):
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
    uploaded = 0
    for entry in manifest["objects"].values():
        try:
            if client.head_object(Bucket=entry["bucket"], Key=entry["key"])["ContentLength"] == entry["size"]:
                continue
        except ClientError as e:
            if e.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
                raise
        client.upload_file(entry["file"], entry["bucket"], entry["key"])
        uploaded += 1
    print(f"uploaded {uploaded} objects" if uploaded else "all objects already present")


def main(argv: list[str]) -> int:
    """Dispatch the subcommand; usage errors say what is expected."""
    if len(argv) == 2 and argv[0] == "make":
        make(Path(argv[1]))
    elif len(argv) == 2 and argv[0] == "stage-standin":
        stage_standin(Path(argv[1]))
    elif len(argv) == 2 and argv[0] == "igv":
        install_seqr_igv(Path(argv[1]))
    elif len(argv) == 3 and argv[0] == "upload":
        upload(Path(argv[1]), argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
