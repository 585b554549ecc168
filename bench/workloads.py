"""The variants and the workloads of issue 7, each measured one repetition at a time.

A variant is one way to get the same bytes to a client: through seqr in one of the three modes, through the
old approach (baseline), straight from S3 with a presigned URL, or from disk by nginx. A workload function
measures one repetition of one variant and returns plain numbers; run.py interleaves variants and repeats.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from clients import (
    REQUEST_TIMEOUT,
    AccessLog,
    BenchError,
    CpuMeter,
    KeepAliveClient,
    NginxTimingLog,
    Target,
    check_range_answer,
    curl_range,
    peak_rss_growth,
    random_range,
    run_threads,
    run_wrk,
    warm_up,
)
from stack import (
    AUTHORIZE_VARIANT,
    BAI_KEY,
    BAM_KEY,
    BASELINE_DIR,
    BUCKET,
    CACHE_VARIANT,
    LARGE_KEY,
    OLD_APPROACH_ROUTE,
    PROJECT,
    SLICE_BYTES,
    STANDIN_DIR,
    BenchStack,
    large_file_range,
)

# The variants every main workload measures; accel+cache (the role's optional slice cache) is measured by
# the cold/warm workload only, beside direct and accel (a cache warmed by random reads would blur the rest).
MAIN_VARIANTS = ("direct", "disk", "accel", AUTHORIZE_VARIANT, "proxy", "redirect", "old")
VARIANTS = (*MAIN_VARIANTS, CACHE_VARIANT)
CACHE_COMPARED = ("direct", "accel", CACHE_VARIANT)
# Variants whose requests run through a gunicorn worker, and the mode (gunicorn) that serves each.
WORKER_VARIANTS = {
    "accel": "accel",
    "proxy": "proxy",
    "redirect": "redirect",
    "old": "proxy",
    CACHE_VARIANT: "accel",
    AUTHORIZE_VARIANT: "accel",
}
IGV_RANGE_SIZES = (16 << 10, 512 << 10)  # igv.js asks for 16-512 KiB per alignment range
IGV_RANGES_PER_SESSION = 20
LOAD_STREAMS = 16
BROWSER_RATE = "8M"  # curl --limit-rate: 8 MiB/s per IGV stream, a browser on a ~67 Mbit/s link


@dataclass(frozen=True)
class Plan:
    """How much work one repetition does (the smoke plan is tiny)."""

    small_range_requests: int
    concurrency: int
    concurrency_seconds: float
    igv_sessions: int
    ordinary_requests: int
    ordinary_max_seconds: float


FULL_PLAN = Plan(
    small_range_requests=200,
    concurrency=8,
    concurrency_seconds=5,
    igv_sessions=3,
    ordinary_requests=50,
    ordinary_max_seconds=15,
)
SMOKE_PLAN = Plan(
    small_range_requests=10,
    concurrency=8,
    concurrency_seconds=1,
    igv_sessions=1,
    ordinary_requests=5,
    ordinary_max_seconds=5,
)


def target(stack: BenchStack, variant: str, key: str) -> Target:
    """The URL (and cookie) through which ``variant`` serves ``key``."""
    if variant == "direct":
        return Target(stack.direct_url(key), None)
    if variant == "disk":
        return Target(stack.disk_url(key), None)
    if variant == "old":
        return Target(stack.old_approach_url(key), stack.cookie_header)
    return Target(stack.track_url(variant, key), stack.cookie_header, follow_redirects=variant == "redirect")


def _access_log(stack: BenchStack, variant: str) -> AccessLog | None:
    mode = WORKER_VARIANTS.get(variant)
    return AccessLog(stack.modes[mode].access_log) if mode else None


# The nginx in front of each variant's requests (disk: the accel stack's nginx serves /static/; accel+cache
# has its own in front of the accel gunicorn).
NGINX_VARIANTS = {
    **WORKER_VARIANTS,
    "disk": "accel",
    CACHE_VARIANT: CACHE_VARIANT,
    AUTHORIZE_VARIANT: AUTHORIZE_VARIANT,
}


def _timing_log(stack: BenchStack, variant: str) -> NginxTimingLog | None:
    mode = NGINX_VARIANTS.get(variant)
    return NginxTimingLog(stack.modes[mode].timing_log) if mode else None


def _nginx_prefix(variant: str) -> str:
    return "/static/" if variant == "disk" else _busy_prefix(variant)


def _hop_median(timings: list, hop: int, field: str) -> float | None:
    values = [getattr(t.hops[hop], field) for t in timings if len(t.hops) > hop]
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def nginx_breakdown(log: NginxTimingLog | None, variant: str, requests: int) -> dict[str, float]:
    """Medians of nginx's own timings of the requests since the mark: the whole request in nginx, the hop
    to seqr (connect, until headers, until its last byte) and, in accel mode, the hop to S3."""
    if log is None:
        return {}
    timings = log.since_mark(_nginx_prefix(variant), requests)
    if len(timings) < requests:
        raise BenchError(f"{variant}: nginx logged {len(timings)} of the {requests} requests just made")
    result = {"nginx_p50_ms": statistics.median(t.request_ms for t in timings)}
    names = {0: "app", 1: "s3"} if variant in WORKER_VARIANTS else {}
    for hop, name in names.items():
        for field, suffix in (("connect_ms", "connect"), ("header_ms", "header"), ("response_ms", "hop")):
            value = _hop_median(timings, hop, field)
            if value is not None:
                result[f"{name}_{suffix}_p50_ms"] = value
    return result


def _busy_prefix(variant: str) -> str:
    return OLD_APPROACH_ROUTE if variant == "old" else "/api/project/"


def _worker_busy(log: AccessLog | None, variant: str, requests: int) -> dict[str, float]:
    """Median time the gunicorn worker was held per request since the log was marked (ms)."""
    if log is None:
        return {}
    if variant == AUTHORIZE_VARIANT:
        # seqr is asked once per session and track per TTL: count what reached it instead of waiting for all.
        asked = log.busy_ms_since_mark(_busy_prefix(variant), 0)
        return {"seqr_requests": len(asked), "worker_held_ms": statistics.median(asked) if asked else 0.0}
    busy = log.busy_ms_since_mark(_busy_prefix(variant), requests)
    if len(busy) < requests:
        raise BenchError(f"{variant}: gunicorn logged {len(busy)} of the {requests} requests just made")
    return {"worker_held_ms": statistics.median(busy)}


def warm_up_workers(stack: BenchStack) -> None:
    """Have every gunicorn worker serve each route it will serve once, before anything is measured."""
    for variant, mode in WORKER_VARIANTS.items():
        if variant in (CACHE_VARIANT, AUTHORIZE_VARIANT):
            continue  # the accel gunicorn, warmed through accel's own nginx; the caches start empty
        master = stack.modes[mode].standin.process.pid
        log = AccessLog(stack.modes[mode].access_log)
        warm_up(master, log, target(stack, variant, LARGE_KEY), _busy_prefix(variant))


def quantile(values: list[float], fraction: float) -> float:
    """Nearest-rank quantile (no interpolation: with 20 samples p95 is the 19th, not a blend)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def verify_bytes(stack: BenchStack, variant: str) -> None:
    """Check the variant returns exactly the right bytes: a range of the large object, and the whole index."""
    client = KeepAliveClient()
    try:
        size = stack.object_sizes[LARGE_KEY]
        first, last = size // 3, size // 3 + 100_000
        status, headers, body, _, _ = client.get(
            target(stack, variant, LARGE_KEY), f"bytes={first}-{last}", True
        )
        check_range_answer(status, headers, body, first, last, large_file_range(size, first, last))
        status, _, body, _, _ = client.get(target(stack, variant, BAI_KEY), None, True)
        if status != 200 or body != stack.bai_local.read_bytes():
            raise BenchError(f"{variant}: the whole index came back as {status} with other bytes")
    finally:
        client.close()


def big_range(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """One big range (64 MiB in a full run) of the large object with curl: MB/s."""
    first, last = random_range(random.Random(rep), stack.object_sizes[LARGE_KEY], stack.sizes.big_range)
    log = _access_log(stack, variant)
    if log:
        log.mark()
    result = curl_range(target(stack, variant, LARGE_KEY), first, last)
    return {**result, **_worker_busy(log, variant, 1)}


def small_ranges(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """64 KiB ranges at random offsets, one after another on a keep-alive connection: latency quantiles."""
    rng = random.Random(1000 + rep)
    size = stack.object_sizes[LARGE_KEY]
    where = target(stack, variant, LARGE_KEY)
    client = KeepAliveClient()
    log = _access_log(stack, variant)
    timing_log = _timing_log(stack, variant)
    try:
        client.get(where, "bytes=0-0")  # opens the connection(s); not counted
        if log:
            log.mark()
        if timing_log:
            timing_log.mark()
        first_byte, total = [], []
        for _ in range(plan.small_range_requests):
            first, last = random_range(rng, size, stack.sizes.small_range)
            status, headers, body, headers_ms, total_ms = client.get(where, f"bytes={first}-{last}")
            check_range_answer(status, headers, body, first, last, None)
            first_byte.append(headers_ms)
            total.append(total_ms)
    finally:
        client.close()
    return {
        "ttfb_p50_ms": quantile(first_byte, 0.5),
        "ttfb_p95_ms": quantile(first_byte, 0.95),
        "total_p50_ms": quantile(total, 0.5),
        "total_p95_ms": quantile(total, 0.95),
        **_worker_busy(log, variant, plan.small_range_requests),
        **nginx_breakdown(timing_log, variant, plan.small_range_requests),
    }


def _concurrent(
    tool: Callable[..., dict[str, float]], stack: BenchStack, variant: str, rep: int, plan: Plan
) -> dict[str, float]:
    """Random small ranges of the large object on ``plan.concurrency`` connections, load made by ``tool``."""
    where = target(stack, variant, LARGE_KEY)
    size, length = stack.object_sizes[LARGE_KEY], stack.sizes.small_range
    meter = CpuMeter(_servers(stack, variant))
    client_before = _client_cpu_seconds()
    meter.start()
    result = tool(where, size, length, plan.concurrency, plan.concurrency_seconds, seed=rep + 1)
    used = {**meter.stop(), "client": _client_cpu_seconds() - client_before}
    # CPU per request of each part: on a machine where all of them share the cores, their sum bounds req/s.
    requests = result.pop("requests")
    return {**result, **{f"cpu_ms_{name}": seconds / requests * 1e3 for name, seconds in used.items()}}


def _servers(stack: BenchStack, variant: str) -> dict[str, int]:
    """The process trees serving ``variant``: the S3 server always, nginx and gunicorn where used."""
    servers = {"s3": stack.s3.process.pid}
    if variant in NGINX_VARIANTS:
        servers["nginx"] = stack.modes[NGINX_VARIANTS[variant]].nginx.process.pid
    if variant in WORKER_VARIANTS:
        servers["gunicorn"] = stack.modes[WORKER_VARIANTS[variant]].standin.process.pid
    return servers


def _client_cpu_seconds() -> float:
    """CPU of the load tool: wrk runs as a child process, the threaded client in this process."""
    total = 0.0
    for who in (resource.RUSAGE_CHILDREN, resource.RUSAGE_SELF):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def concurrent_ranges(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """64 KiB random ranges at concurrency 8 with wrk (req/s)."""
    if variant == "redirect":
        raise BenchError("wrk cannot follow redirects: measure redirect with concurrent_ranges_threads")
    return _concurrent(run_wrk, stack, variant, rep, plan)


def concurrent_ranges_threads(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """The same load from Python threads that follow redirects (for redirect, and direct as its reference)."""
    return _concurrent(run_threads, stack, variant, rep, plan)


def igv_session(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """What igv.js does for one BAM track: the whole index, then 20 ranges of 16-512 KiB (ms per session)."""
    rng = random.Random(2000 + rep)
    bam_size = stack.object_sizes[BAM_KEY]
    bai_size = stack.object_sizes[BAI_KEY]
    sessions = []
    log = _access_log(stack, variant) if variant == AUTHORIZE_VARIANT else None
    if log:
        log.mark()
    for _ in range(plan.igv_sessions):
        client = KeepAliveClient()
        started = time.perf_counter()
        try:
            status, _, body, _, _ = client.get(target(stack, variant, BAI_KEY))
            if status != 200 or body != bai_size:
                raise BenchError(f"{variant}: index answered {status} with {body} bytes, expected {bai_size}")
            bam = target(stack, variant, BAM_KEY)
            for _ in range(IGV_RANGES_PER_SESSION):
                first, last = random_range(rng, bam_size, rng.randint(*IGV_RANGE_SIZES))
                status, headers, body, _, _ = client.get(bam, f"bytes={first}-{last}")
                check_range_answer(status, headers, body, first, last, None)
        finally:
            client.close()
        sessions.append((time.perf_counter() - started) * 1e3)
    result = {"session_ms": statistics.median(sessions)}
    if log:
        # A repetition's sessions ask for the same two URIs (index, BAM) within the TTL: what reached seqr.
        result["seqr_requests"] = len(log.busy_ms_since_mark(_busy_prefix(variant), 0))
    return result


def cold_ranges(stack: BenchStack, count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` small ranges of the large object, each inside its own slice (never slice 0, which opening the
    connection reads), so every one of them is a miss in an emptied cache."""
    rng = random.Random(seed)
    length = stack.sizes.small_range
    slices = rng.sample(range(1, stack.object_sizes[LARGE_KEY] // SLICE_BYTES), count)
    starts = [index * SLICE_BYTES + rng.randrange(0, SLICE_BYTES - length + 1) for index in slices]
    return [(first, first + length - 1) for first in starts]


def slice_cache(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """The whole BAM index, then 64 KiB ranges each in a slice of its own: first cold (accel+cache: its cache
    emptied just before), then the same requests again (warm). direct and accel have no cache: their two
    passes are the reference (and show what a second read costs anyway)."""
    slices = stack.object_sizes[LARGE_KEY] // SLICE_BYTES - 1
    ranges = cold_ranges(stack, min(plan.small_range_requests, slices), 4000 + rep)
    index, large = target(stack, variant, BAI_KEY), target(stack, variant, LARGE_KEY)
    if variant == CACHE_VARIANT:
        stack.empty_slice_cache()
    client = KeepAliveClient()
    result: dict[str, float] = {}
    try:
        client.get(large, "bytes=0-0")  # opens the connection(s); not counted
        for temperature in ("cold", "warm"):
            status, _, body, _, index_ms = client.get(index)
            if status != 200 or body != stack.object_sizes[BAI_KEY]:
                raise BenchError(f"{variant}: {temperature} index answered {status} with {body} bytes")
            totals = []
            for first, last in ranges:
                status, headers, body, _, total_ms = client.get(large, f"bytes={first}-{last}")
                check_range_answer(status, headers, body, first, last, None)
                totals.append(total_ms)
            result[f"index_{temperature}_ms"] = index_ms
            result[f"range_{temperature}_p50_ms"] = quantile(totals, 0.5)
            result[f"range_{temperature}_p95_ms"] = quantile(totals, 0.95)
            if variant == CACHE_VARIANT and temperature == "cold":
                # Every range and the index must have left a slice on disk, or "warm" would measure misses.
                result["cached_slices"] = stack.count_cached_slices()
                if result["cached_slices"] < len(ranges) + 1:
                    raise BenchError(f"the cold pass left {result['cached_slices']} slices in the cache")
    finally:
        client.close()
    return result


def worker_memory(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """Largest RSS growth of one gunicorn worker while the whole large object streams as one range."""
    mode = WORKER_VARIANTS[variant]
    size = stack.object_sizes[LARGE_KEY]
    where = target(stack, variant, LARGE_KEY)
    return peak_rss_growth(stack.modes[mode].standin.process.pid, lambda: curl_range(where, 0, size - 1))


class StreamLoad:
    """``LOAD_STREAMS`` curl loops each fetching big ranges through one variant until stopped."""

    def __init__(
        self, where: Target, object_size: int, range_size: int, rate_limit: str | None = None
    ) -> None:
        self._where = where
        self._rate_limit = rate_limit
        self._object_size = object_size
        self._range_size = range_size
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(LOAD_STREAMS)
        ]

    def _loop(self, index: int) -> None:
        rng = random.Random(index)
        while not self._stop.is_set():
            first, last = random_range(rng, self._object_size, self._range_size)
            command = ["curl", "-sS", "-o", "/dev/null", "--max-time", str(REQUEST_TIMEOUT), "-L"]
            if self._rate_limit:
                command += ["--limit-rate", self._rate_limit]
            command += ["-r", f"{first}-{last}", self._where.url]
            if self._where.cookie:
                command += ["-H", f"Cookie: {self._where.cookie}"]
            with self._lock:
                if self._stop.is_set():
                    return
                process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self._running.add(process)
            process.wait()
            with self._lock:
                self._running.discard(process)

    def __enter__(self) -> StreamLoad:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)  # let every stream get its request in before measuring
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._stop.set()
            for process in self._running:
                process.terminate()
        for thread in self._threads:
            thread.join(timeout=30)


def _ordinary_latencies(url: str, cookie: str, count: int, max_seconds: float) -> list[float]:
    client = KeepAliveClient()
    where = Target(url, cookie)
    latencies = []
    deadline = time.monotonic() + max_seconds
    try:
        while len(latencies) < count and time.monotonic() < deadline:
            status, _, _, _, total_ms = client.get(where)
            if status != 200:
                raise BenchError(f"ordinary request answered {status}")
            latencies.append(total_ms)
    finally:
        client.close()
    return latencies


def ordinary_under_load(stack: BenchStack, variant: str, rep: int, plan: Plan) -> dict[str, float]:
    """p95 of an ordinary seqr page request, idle and while 16 IGV streams run through ``variant``.

    Twice: with streams as fast as loopback allows (they saturate this machine's CPU, so the page waits for a
    core whatever serves the streams) and with each stream limited to a browser's 8 MB/s (64 Mbit/s), which
    shows whether the streams hold seqr's workers. For "direct" the streams bypass seqr (straight to S3) and
    the page is asked of the accel stack: that is what contention alone costs on this machine.
    """
    page_mode = "accel" if variant == "direct" else WORKER_VARIANTS[variant]
    page = stack.ordinary_url(page_mode)

    def page_latencies() -> list[float]:
        return _ordinary_latencies(
            page, stack.cookie_header, plan.ordinary_requests, plan.ordinary_max_seconds
        )

    # The page's time in the gunicorn worker, beside its time at the client: what is not in the worker was
    # spent queueing for one or in nginx.
    log = AccessLog(stack.modes[page_mode].access_log)
    log.mark()
    idle = page_latencies()
    idle_p95 = quantile(idle, 0.95)
    result = {
        "idle_p95_ms": idle_p95,
        "idle_worker_p95_ms": quantile(log.busy_ms_since_mark("/", len(idle), exact=True), 0.95),
    }
    streams = target(stack, variant, LARGE_KEY)
    for suffix, rate_limit in (("", None), ("_8mbs", BROWSER_RATE)):
        with StreamLoad(streams, stack.object_sizes[LARGE_KEY], stack.sizes.big_range, rate_limit):
            log.mark()
            loaded = page_latencies()
        result[f"loaded{suffix}_p95_ms"] = quantile(loaded, 0.95)
        result[f"loaded{suffix}_over_idle"] = result[f"loaded{suffix}_p95_ms"] / idle_p95
        result[f"loaded{suffix}_requests"] = len(loaded)
        in_worker = log.busy_ms_since_mark("/", len(loaded), exact=True)
        result[f"loaded{suffix}_worker_p95_ms"] = quantile(in_worker, 0.95)
    return result


def where_time_goes(stack: BenchStack) -> dict[str, float]:
    """CPU ms per accel track request and per part of it, measured in the accel gunicorn's environment."""
    track_path = urlsplit(stack.track_url("accel", LARGE_KEY)).path
    done = subprocess.run(
        [
            sys.executable,
            str(BASELINE_DIR / "where_time_goes.py"),
            track_path,
            PROJECT,
            f"s3://{BUCKET}/{LARGE_KEY}",
        ],
        cwd=STANDIN_DIR,
        env={**stack.modes["accel"].standin.env, "BENCH_SESSION_COOKIE": stack.cookie_header},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"where_time_goes.py failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# py-spy frames (function and file, as py-spy names them) that mark what a sampled worker is doing. A sample
# goes to the first part whose marker is anywhere in its stack, so the more specific parts come first.
PROFILE_PARTS = (
    ("seqr_s3 access check", ("check_access (seqr_s3/access.py",)),
    ("seqr_s3 presign", ("presign (seqr_s3/s3.py",)),
    ("seqr_s3 rest", ("serve_track (seqr_s3/serving.py",)),
    ("seqr session and user lookup", ("get_user (django/contrib/auth/__init__.py",)),
    ("seqr project permission check", ("get_project_and_check_permissions (",)),
    ("database connect and close", ("get_new_connection (", "close_old_connections (")),
    ("gunicorn sends the answer", ("Response.send_headers (", "Response.write (", "close_graceful (")),
    ("gunicorn access log", ("Logger.access (",)),
    ("other Django and gunicorn", ("SyncWorker.handle (",)),
)
# Where a worker waits for the next request: not time spent on one.
PROFILE_IDLE = ("SyncWorker.wait (", "SyncWorker.accept (")


def profile_shares(raw_stacks: str) -> dict[str, float]:
    """Shares (%) of a worker's busy samples per PROFILE_PARTS, from py-spy's raw (collapsed) output."""
    counts = dict.fromkeys([name for name, _ in PROFILE_PARTS], 0)
    busy = 0
    for line in raw_stacks.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        # Idle only when the innermost part of the stack is the wait: accept() leads on to handle().
        innermost = stack_text.rsplit(";", 3)[-3:]
        if any(marker in frame for frame in innermost for marker in PROFILE_IDLE) and not any(
            "SyncWorker.handle (" in frame for frame in innermost
        ):
            continue
        part = next((name for name, markers in PROFILE_PARTS if any(m in stack_text for m in markers)), None)
        if part is None:
            continue  # the master process, or a worker between requests
        counts[part] += int(count_text)
        busy += int(count_text)
    if not busy:
        raise BenchError("py-spy saw no busy gunicorn worker")
    return {"busy_samples": busy, **{name: 100 * count / busy for name, count in counts.items()}}


def profile_accel_worker(stack: BenchStack, seconds: float) -> dict[str, float]:
    """py-spy samples the accel gunicorn (all workers) while 64 KiB ranges run one after another: which
    share of a worker's busy time goes to which part (seqr_s3's, seqr's, Django's, gunicorn's)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        raise BenchError(f"{py_spy} is missing: make setup installs py-spy (requirements-dev.txt)")
    stop = threading.Event()

    def load() -> None:
        rng = random.Random(3000)
        client = KeepAliveClient()
        where = target(stack, "accel", LARGE_KEY)
        try:
            while not stop.is_set():
                first, last = random_range(rng, stack.object_sizes[LARGE_KEY], stack.sizes.small_range)
                client.get(where, f"bytes={first}-{last}")
        finally:
            client.close()

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    output = stack.workdir / "accel_worker_profile.txt"
    try:
        master = stack.modes["accel"].standin.process.pid
        done = subprocess.run(
            [
                *(str(py_spy), "record", "--subprocesses", "--pid", str(master), "--rate", "100"),
                *("--duration", str(max(1, round(seconds))), "--format", "raw", "--output", str(output)),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        stop.set()
        loader.join(timeout=REQUEST_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"py-spy failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return profile_shares(output.read_text())


# name → (function, the variants it measures, the metric its ratio to direct is taken on, or None)
WORKLOADS = {
    "big_range": (big_range, MAIN_VARIANTS, "mb_per_s"),
    "small_ranges": (small_ranges, MAIN_VARIANTS, "total_p50_ms"),
    "concurrency": (
        concurrent_ranges,
        ("direct", "disk", "accel", AUTHORIZE_VARIANT, "proxy", "old"),
        "req_per_s",
    ),
    "concurrency_threads": (concurrent_ranges_threads, ("direct", "redirect"), "req_per_s"),
    "igv_session": (igv_session, MAIN_VARIANTS, "session_ms"),
    "worker_memory": (worker_memory, ("accel", "proxy", "redirect", "old"), None),
    "ordinary_under_load": (
        ordinary_under_load,
        ("direct", "accel", AUTHORIZE_VARIANT, "proxy", "redirect", "old"),
        None,
    ),
    "slice_cache": (slice_cache, CACHE_COMPARED, "range_warm_p50_ms"),
}
