"""The load generators and probes of the benchmark: curl for big transfers, a keep-alive Python client for
latency, wrk (or a threaded Python client where redirects must be followed) for concurrency, and samplers for
worker memory and worker busy time. Every request goes to loopback and is bounded in count, time and size.

Each client checks what it got (status, length, and where asked the exact bytes), so a variant that answers
fast but wrong fails the run instead of winning it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "random_ranges.lua"
REQUEST_TIMEOUT = 120  # seconds; a stuck variant fails the run instead of hanging it
MAX_REDIRECTS = 3


class BenchError(RuntimeError):
    """A variant answered wrongly (status, length, bytes) or a tool failed; the message says which."""


@dataclass(frozen=True)
class Target:
    """How one variant is asked for one object: the URL, whether seqr's cookie goes along, and whether the
    client must follow a redirect (to S3, where the cookie is not sent, as a browser would not)."""

    url: str
    cookie: str | None
    follow_redirects: bool = False


def curl_range(target: Target, first: int, last: int) -> dict[str, float]:
    """Fetch bytes first..last with curl to /dev/null; return MB/s, seconds and time to first byte."""
    command = ["curl", "-sS", "-o", "/dev/null", "--max-time", str(REQUEST_TIMEOUT), "-r", f"{first}-{last}"]
    command += ["-w", "%{http_code} %{size_download} %{time_total} %{time_starttransfer}"]
    if target.cookie:
        command += ["-H", f"Cookie: {target.cookie}"]  # -H (not -b): curl drops it when leaving the host
    if target.follow_redirects:
        command += ["-L", "--max-redirs", str(MAX_REDIRECTS)]
    done = subprocess.run(
        [*command, target.url], capture_output=True, text=True, timeout=REQUEST_TIMEOUT + 10, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"curl failed ({done.returncode}): {done.stderr.strip()}")
    status, size, total, first_byte = done.stdout.split()
    expected = last - first + 1
    if status != "206" or int(size) != expected:
        raise BenchError(f"expected 206 with {expected} bytes, got {status} with {size} bytes")
    seconds = float(total)
    return {"mb_per_s": expected / seconds / 1e6, "seconds": seconds, "ttfb_ms": float(first_byte) * 1e3}


class KeepAliveClient:
    """Like a browser: one persistent HTTP/1.1 connection per host, follows redirects, keeps timings."""

    def __init__(self) -> None:
        self._connections: dict[str, http.client.HTTPConnection] = {}

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        if netloc not in self._connections:
            host, _, port = netloc.partition(":")
            self._connections[netloc] = http.client.HTTPConnection(
                host, int(port or 80), timeout=REQUEST_TIMEOUT
            )
        return self._connections[netloc]

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def get(
        self, target: Target, range_header: str | None = None, keep_body: bool = False
    ) -> tuple[int, dict[str, str], bytes | int, float, float]:
        """GET the target; return (status, headers, body or its length, ms to headers, ms to last byte)."""
        url = target.url
        cookie = target.cookie
        started = time.perf_counter()
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = {"Range": range_header} if range_header else {}
            if cookie:
                headers["Cookie"] = cookie
            connection = self._connection(parts.netloc)
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
            except (http.client.HTTPException, OSError):
                # A server may close an idle keep-alive connection; retry once on a fresh one, as browsers do.
                connection.close()
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
            headers_ms = (time.perf_counter() - started) * 1e3
            body = response.read() if keep_body else _drain(response)
            if response.status in (301, 302, 303, 307, 308) and target.follow_redirects:
                url = urljoin(url, response.getheader("Location", ""))
                cookie = None  # another origin: the browser does not send seqr's cookie to S3
                continue
            total_ms = (time.perf_counter() - started) * 1e3
            answer_headers = {key.lower(): value for key, value in response.getheaders()}
            return response.status, answer_headers, body, headers_ms, total_ms
        raise BenchError(f"more than {MAX_REDIRECTS} redirects from {target.url[:80]}")


def _drain(response: http.client.HTTPResponse) -> int:
    """Read a body to its end without keeping it; return its length."""
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    total = 0
    while True:
        count = response.readinto(view)
        if not count:
            return total
        total += count


def check_range_answer(
    status: int, headers: dict[str, str], body: bytes | int, first: int, last: int, expected: bytes | None
) -> None:
    """A range answer must be 206 with exactly the asked length (and bytes, when ``expected`` is given)."""
    length = body if isinstance(body, int) else len(body)
    if status != 206 or length != last - first + 1:
        detail = f": {body[:300]!r}" if isinstance(body, bytes) and status >= 400 else ""
        raise BenchError(f"range {first}-{last}: got {status} with {length} bytes{detail}")
    if expected is not None and body != expected:
        raise BenchError(f"range {first}-{last}: wrong bytes (Content-Range {headers.get('content-range')})")


def random_range(rng: random.Random, object_size: int, length: int) -> tuple[int, int]:
    """An inclusive range of ``length`` bytes (clamped to the object) at a random offset."""
    length = min(length, object_size)
    first = rng.randrange(0, object_size - length + 1)
    return first, first + length - 1


def run_wrk(
    target: Target, object_size: int, range_size: int, connections: int, seconds: float, seed: int
) -> dict[str, float]:
    """wrk at ``connections`` concurrent keep-alive connections, random ranges; req/s and latency quantiles.

    Any non-2xx answer fails the run: a fast error page must not count as throughput.
    """
    command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", "30s", "--latency", "-s", str(WRK_SCRIPT)]
    if target.cookie:
        command += ["-H", f"Cookie: {target.cookie}"]
    env = {
        "BENCH_OBJECT_SIZE": str(object_size),
        "BENCH_RANGE_SIZE": str(range_size),
        "BENCH_SEED": str(seed),
    }
    done = subprocess.run(
        [*command, target.url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    output = done.stdout
    problems = [
        found.group(0)
        for found in (
            re.search(r"Non-2xx or 3xx responses: \d+", output),
            re.search(r"Socket errors: .*", output),
            re.search(r"Not 206 responses: [1-9]\d*", output),
        )
        if found
    ]
    if problems or "Not 206 responses: 0" not in output:
        raise BenchError(f"wrk saw failures: {'; '.join(problems) or output[-300:]}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    quantiles = {}
    for label, name in (("50%", "p50_ms"), ("99%", "p99_ms")):
        found = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if found:
            scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[found.group(2)]
            quantiles[name] = float(found.group(1)) * scale
    return {"req_per_s": rps, "requests": requests, **quantiles}


def run_threads(
    target: Target, object_size: int, range_size: int, connections: int, seconds: float, seed: int
) -> dict[str, float]:
    """The same load as run_wrk from Python threads, for variants wrk cannot measure (redirects to follow)."""
    deadline = time.monotonic() + seconds
    counts = [0] * connections
    failures: list[str] = []

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = KeepAliveClient()
        try:
            while time.monotonic() < deadline and not failures:
                first, last = random_range(rng, object_size, range_size)
                status, headers, body, _, _ = client.get(target, f"bytes={first}-{last}")
                check_range_answer(status, headers, body, first, last, None)
                counts[index] += 1
        except Exception as error:  # surfaced below: one failing thread fails the measurement
            failures.append(f"{type(error).__name__}: {error}")
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT)
    if failures:
        raise BenchError(f"threaded client: {failures[0]}")
    return {"req_per_s": sum(counts) / (time.monotonic() - started), "requests": sum(counts)}


def worker_pids(master_pid: int) -> list[int]:
    """gunicorn's worker processes: the master's children (from /proc, no extra dependency)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def peak_rss_growth(
    master_pid: int, action: Callable[[], object], interval: float = 0.005
) -> dict[str, float]:
    """Run ``action`` while sampling every worker's RSS; return the largest growth of one worker (MiB)."""
    pids = worker_pids(master_pid)
    before = {pid: rss_kib(pid) for pid in pids}
    peak = dict(before)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], rss_kib(pid))
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        action()
    finally:
        stop.set()
        sampler.join(timeout=5)
    growth = max(peak[pid] - before[pid] for pid in pids)
    return {"rss_growth_mib": growth / 1024, "rss_before_mib": max(before.values()) / 1024}


class MarkedLog:
    """A server's log file read from a mark on: mark, make requests, then read the lines they left."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def mark(self) -> None:
        """Forget what was logged so far."""
        self._offset = self.path.stat().st_size if self.path.exists() else 0

    def lines_since_mark(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self._offset)
            return log.read().decode(errors="replace").splitlines()

    @staticmethod
    def wait_for(read: Callable[[], list], expected: int, wait: float) -> list:
        """Servers log a request after its last byte went out, so the client may finish first: call ``read``
        until it returns ``expected`` entries or ``wait`` seconds passed; return its last answer."""
        deadline = time.monotonic() + wait
        while True:
            entries = read()
            if len(entries) >= expected or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)


class AccessLog(MarkedLog):
    """gunicorn's access log of one mode (format stack.ACCESS_LOG_FORMAT): worker busy time per request."""

    def busy_ms_since_mark(
        self, path_prefix: str, expected: int, wait: float = 10, exact: bool = False
    ) -> list[float]:
        """Busy times (ms) of the requests since ``mark()`` whose path starts with ``path_prefix`` (or is
        exactly it, with ``exact``); waits (bounded) for ``expected`` of them."""
        return self.wait_for(lambda: [busy for busy, _ in self._entries(path_prefix, exact)], expected, wait)

    def _entries(self, path_prefix: str, exact: bool = False) -> list[tuple[float, str]]:
        """(busy ms, worker pid) of each request since ``mark()`` whose path starts with ``path_prefix``."""
        entries = []
        for line in self.lines_since_mark():
            fields = line.split("\t")
            matches = fields[1] == path_prefix if exact else fields[1].startswith(path_prefix)
            if len(fields) == 5 and matches:
                entries.append((int(fields[3]) / 1000, fields[4].strip("<>")))
        return entries

    def workers_seen(self, path_prefix: str) -> set[int]:
        """Pids of the workers that served a request under ``path_prefix`` since ``mark()``."""
        return {int(pid) for _, pid in self._entries(path_prefix)}


def warm_up(master_pid: int, log: AccessLog, where: Target, path_prefix: str, timeout: float = 60) -> None:
    """Send small range requests, 8 at a time, until every worker has served one: a worker builds its boto3
    client and imports lazily on its first request (about 0.1 s), which is start-up cost, not per request."""
    log.mark()
    wanted = set(worker_pids(master_pid))
    deadline = time.monotonic() + timeout
    while not wanted <= log.workers_seen(path_prefix):
        if time.monotonic() > deadline:
            raise BenchError(
                f"warm-up: workers {sorted(wanted - log.workers_seen(path_prefix))} got no request"
            )
        run_threads(where, 1 << 20, 1024, connections=8, seconds=0.5, seed=0)


@dataclass(frozen=True)
class NginxHop:
    """One upstream an nginx request went through (ms; None where nginx logged "-")."""

    connect_ms: float | None
    header_ms: float | None
    response_ms: float | None


@dataclass(frozen=True)
class NginxTiming:
    """nginx's own view of one request: its whole time and each upstream hop, in order (accel: app, S3)."""

    uri: str
    request_ms: float
    hops: tuple[NginxHop, ...]


def _nginx_ms(value: str) -> float | None:
    """One timing of a hop; nginx lists every server it tried in a group with ", " (retries): sum them."""
    parts = [part.strip() for part in value.split(",")]
    if any(part in ("-", "") for part in parts):
        return None
    return sum(float(part) for part in parts) * 1e3


class NginxTimingLog(MarkedLog):
    """nginx's timing log of one mode (format stack.NGINX_TIMING_FIELDS), read from a mark on."""

    def since_mark(self, path_prefix: str, expected: int, wait: float = 10) -> list[NginxTiming]:
        """Timings of the requests since ``mark()`` under ``path_prefix``; waits (bounded) for
        ``expected`` of them."""
        return self.wait_for(lambda: self._entries(path_prefix), expected, wait)

    def _entries(self, path_prefix: str) -> list[NginxTiming]:
        entries = []
        for line in self.lines_since_mark():
            fields = line.split("\t")
            if len(fields) != 9 or not fields[0].startswith(path_prefix):
                continue
            uri, _, request_time, _, connects, headers, responses, _, _ = fields
            # nginx joins the upstreams of an internal redirect (X-Accel-Redirect) with " : ".
            hop_fields = zip(connects.split(" : "), headers.split(" : "), responses.split(" : "))
            hops = tuple(
                NginxHop(_nginx_ms(connect), _nginx_ms(header), _nginx_ms(response))
                for connect, header, response in hop_fields
                if connect != "-" or response != "-"
            )
            entries.append(NginxTiming(uri=uri, request_ms=float(request_time) * 1e3, hops=hops))
        return entries


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc: gunicorn's master and workers, nginx's, weed's)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (exited ones count as zero)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            # The command name (field 2) may hold spaces: split after its closing parenthesis.
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


class CpuMeter:
    """CPU seconds each named process tree uses between ``start()`` and ``stop()``."""

    def __init__(self, roots: dict[str, int]) -> None:
        self._trees = {name: process_tree(pid) for name, pid in roots.items()}
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: cpu_seconds(pids) for name, pids in self._trees.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pids) - self._before[name] for name, pids in self._trees.items()}
