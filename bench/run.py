"""Run the seqr_s3 benchmarks (issue 7): build the loopback stack, measure every workload with the variants
interleaved, and write ``<out>/<date>.json`` (raw, with versions and machine), ``<date>.md``, ``<date>.png``.

    .venv/bin/python bench/run.py              # full run: 256 MiB object, 64 MiB ranges, 5 repetitions
    .venv/bin/python bench/run.py --smoke      # tiny sizes, one repetition (CI: make bench-smoke)

Repetitions are interleaved: repetition r measures every variant once, in an order rotated by r, so a noisy
moment on the machine hits all variants alike; each is then reported as a ratio to direct S3 of the same
repetition. The run never asserts on timings; it fails only when a variant answers wrongly or a tool fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import report  # noqa: E402  (bench/ must be on sys.path first)
import stack  # noqa: E402
import workloads  # noqa: E402

DEFAULT_OUT = BENCH_DIR / "results"
GUNICORN_WORKERS = 4  # sync workers per mode: 2 x cores, as a seqr host of this size would run
SMOKE_GUNICORN_WORKERS = 2  # the smoke run checks the harness, not capacity: start fewer processes
PROFILE_SECONDS = 10  # py-spy on the accel gunicorn while 64 KiB ranges run one after another


def _command_output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        return f"unavailable ({error})"
    return (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else ""


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_total_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def environment_facts() -> dict[str, Any]:
    """Versions of every part measured, and the machine (load average included: others share it)."""
    from fixtures.seaweed import find_weed

    return {
        "versions": {
            "python": platform.python_version(),
            **{
                name: _package_version(name)
                for name in ("boto3", "botocore", "Django", "gunicorn", "seqr_s3")
            },
            "nginx": _command_output(["nginx", "-v"]),
            "seaweedfs": _command_output([find_weed(), "version"]),
            "wrk": _command_output(["wrk", "-v"]),
            "curl": _command_output(["curl", "--version"]),
            "git_commit": _command_output(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"]),
        },
        "machine": {
            "kernel": platform.platform(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_mib": _memory_total_mib(),
            "load_average_start": os.getloadavg(),
        },
    }


def run_workloads(
    bench: stack.BenchStack,
    plan: workloads.Plan,
    repetitions: int,
    only: tuple[str, ...] | None = None,
    variants_wanted: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Every workload (or those in ``only``), ``repetitions`` times, variants (or those wanted) interleaved;
    raw numbers per variant per repetition."""
    results: dict[str, Any] = {}
    for name, (measure, all_variants, _) in workloads.WORKLOADS.items():
        if only and name not in only:
            continue
        variants = tuple(v for v in all_variants if not variants_wanted or v in variants_wanted)
        if not variants:
            continue
        per_variant: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
        started = time.monotonic()
        for rep in range(repetitions):
            order = variants[rep % len(variants) :] + variants[: rep % len(variants)]
            for variant in order:
                per_variant[variant].append(measure(bench, variant, rep, plan))
        print(f"bench: {name} done in {time.monotonic() - started:.0f} s", flush=True)
        results[name] = per_variant
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and one repetition (CI)")
    parser.add_argument("--repetitions", type=int, help="repetitions per variant (default 5, smoke 1)")
    parser.add_argument("--out", type=Path, help=f"folder for the results (default {DEFAULT_OUT})")
    parser.add_argument(
        "--workdir", type=Path, help="where the stack keeps its data (default: a temp folder)"
    )
    parser.add_argument(
        "--only",
        type=_names(tuple(workloads.WORKLOADS)),
        help=f"comma-separated workloads to run (quick looks; of {', '.join(workloads.WORKLOADS)})",
    )
    parser.add_argument(
        "--variants",
        type=_names(workloads.VARIANTS),
        help=f"comma-separated variants (keep direct for ratios; of {', '.join(workloads.VARIANTS)})",
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        help="py-spy samples an accel worker for this long (default 10, smoke 0 = off)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help=f"gunicorn sync workers per mode (default {GUNICORN_WORKERS}, smoke {SMOKE_GUNICORN_WORKERS})",
    )
    parser.add_argument(
        "--package-src",
        type=Path,
        help="a folder with another seqr_s3 package to measure instead of the installed one (before/after: "
        "git archive an older commit's python/src and point here)",
    )
    parser.add_argument(
        "--role-var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a role variable for the nginx sites (repeatable), e.g. seqr_s3_nginx_track_buffers='8 4k'",
    )
    args = parser.parse_args(argv)
    malformed = [item for item in args.role_var if not re.fullmatch(r"seqr_s3_\w+=.*", item)]
    if malformed:
        parser.error(f"--role-var takes seqr_s3_NAME=VALUE, not {', '.join(malformed)}")
    args.role_overrides = dict(item.split("=", 1) for item in args.role_var)
    if args.package_src and not (args.package_src / "seqr_s3" / "__init__.py").is_file():
        parser.error(f"--package-src {args.package_src}: no seqr_s3/__init__.py in it")

    repetitions = args.repetitions or (1 if args.smoke else 5)
    if repetitions < 1:
        parser.error("--repetitions must be at least 1")
    sizes = stack.SMOKE_SIZES if args.smoke else stack.FULL_SIZES
    plan = workloads.SMOKE_PLAN if args.smoke else workloads.FULL_PLAN
    workers = args.workers or (SMOKE_GUNICORN_WORKERS if args.smoke else GUNICORN_WORKERS)
    if workers < 1:
        parser.error("--workers must be at least 1")
    # A smoke run without --out writes into a temporary folder removed afterwards (CI keeps no results).
    with tempfile.TemporaryDirectory(prefix="seqr_s3_bench_out_") as scratch:
        out = args.out or (Path(scratch) if args.smoke else DEFAULT_OUT)
        out.mkdir(parents=True, exist_ok=True)
        return run(args, sizes, plan, repetitions, workers, out)


def _names(allowed: tuple[str, ...]) -> Any:
    """An argparse type: a comma-separated list of names, each one of ``allowed``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            wrong = ", ".join(unknown) or repr(text)
            raise argparse.ArgumentTypeError(f"{wrong}: choose from {', '.join(allowed)}")
        return names

    return parse


def run(
    args: argparse.Namespace,
    sizes: stack.Sizes,
    plan: workloads.Plan,
    repetitions: int,
    workers: int,
    out: Path,
) -> int:
    """Build the stack, measure, tear down, then write the JSON, table and chart into ``out``."""
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="seqr_s3_bench_"))

    facts = environment_facts()
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        package_src = args.package_src.resolve() if args.package_src else None
        with stack.bench_stack(workdir, sizes, workers, package_src, args.role_overrides) as bench:
            workloads.warm_up_workers(bench)
            for variant in workloads.VARIANTS:
                workloads.verify_bytes(bench, variant)
            print("bench: stack up, every variant returns the right bytes", flush=True)
            raw = run_workloads(bench, plan, repetitions, args.only, args.variants)
            where_time_goes = workloads.where_time_goes(bench)
            profile_seconds = args.profile_seconds
            if profile_seconds is None:
                profile_seconds = 0 if args.smoke else PROFILE_SECONDS
            worker_profile = None
            if profile_seconds > 0:
                try:
                    worker_profile = workloads.profile_accel_worker(bench, profile_seconds)
                except workloads.BenchError as error:
                    # A profile explains numbers, it is not one: a missing py-spy must not void a long run.
                    print(f"bench: no worker profile: {error}", flush=True)
            object_sizes = dict(bench.object_sizes)
    finally:
        if not args.workdir:
            stack.remove_workdir(workdir)
    facts["machine"]["load_average_end"] = os.getloadavg()

    document = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "repetitions": repetitions,
        "package_src": str(args.package_src) if args.package_src else None,
        "role_overrides": args.role_overrides,
        "only": list(args.only or ()),
        "variants": list(args.variants or ()),
        "sizes": vars(sizes),
        "objects": object_sizes,
        "plan": vars(plan),
        "gunicorn_workers": workers,
        **facts,
        "raw": raw,
        "where_time_goes_cpu_ms": where_time_goes,
        "worker_profile": worker_profile,
    }
    document["summary"] = report.summarize(document)
    stem = out / started.strftime("%Y-%m-%d")
    stem.with_suffix(".json").write_text(json.dumps(document, indent=1) + "\n")
    table = report.markdown(document)
    stem.with_suffix(".md").write_text(table)
    report.chart(document, stem.with_suffix(".png"))
    print(table)
    kept = "" if args.out or not args.smoke else " (a smoke run's scratch folder, removed now)"
    print(f"bench: wrote {stem}.json, .md and .png{kept}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
