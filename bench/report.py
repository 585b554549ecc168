"""Turn a run's raw numbers into medians with min-max, ratios to direct S3, the target check, a markdown
table and a matplotlib chart. Pure functions of the results document, so a committed JSON can be re-rendered:

    .venv/bin/python bench/report.py bench/results/2026-11-25.json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

LABELS = {
    "direct": "direct S3 (presigned)",
    "disk": "nginx from disk",
    "accel": "seqr_s3 accel",
    "accel+authorize": "seqr_s3 accel, authorize once",
    "proxy": "seqr_s3 proxy",
    "redirect": "seqr_s3 redirect",
    "old": "old approach (baseline)",
}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _ratios(mine: list[dict], reference: list[dict], metric: str) -> list[float]:
    return [a[metric] / b[metric] for a, b in zip(mine, reference) if b.get(metric)]


def summarize(document: dict[str, Any]) -> dict[str, Any]:
    """Per workload and variant: median/min/max of every metric, and of the per-repetition ratio to direct."""
    from workloads import WORKLOADS

    summary: dict[str, Any] = {}
    for name, per_variant in document["raw"].items():
        ratio_metric = WORKLOADS[name][2]
        summary[name] = {}
        for variant, reps in per_variant.items():
            metrics = {metric: _spread([rep[metric] for rep in reps]) for metric in reps[0]}
            if ratio_metric and "direct" in per_variant:
                metrics["ratio_to_direct"] = _spread(_ratios(reps, per_variant["direct"], ratio_metric))
            summary[name][variant] = metrics
    summary["targets"] = check_targets(document)
    return summary


def _median_ratio(
    raw: dict, workload: str, mine: str, reference: str, metric: str, invert: bool = False
) -> float | None:
    """Median over repetitions of mine ÷ reference; None when a partial run (--only) lacks either."""
    if mine not in raw.get(workload, {}) or reference not in raw.get(workload, {}):
        return None
    ratios = _ratios(raw[workload][mine], raw[workload][reference], metric)
    value = statistics.median(ratios)
    return 1 / value if invert else value


def check_targets(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Issues 7's and 18's targets with the measured value (median over repetitions), each met or not."""
    raw = document["raw"]

    def median(workload: str, variant: str, metric: str) -> float | None:
        reps = raw.get(workload, {}).get(variant)
        return statistics.median(rep[metric] for rep in reps) if reps else None

    rows = [
        (
            "accel ≥ 0.8x direct MB/s on a big range",
            _median_ratio(raw, "big_range", "accel", "direct", "mb_per_s"),
            ">=",
            0.8,
        ),
        (
            "accel ≤ 1.5x direct p50 on 64 KiB ranges",
            _median_ratio(raw, "small_ranges", "accel", "direct", "total_p50_ms"),
            "<=",
            1.5,
        ),
        (
            "accel ≥ 0.6x direct req/s at concurrency 8",
            _median_ratio(raw, "concurrency", "accel", "direct", "req_per_s"),
            ">=",
            0.6,
        ),
        (
            "accel worker held < 10 ms per request (ms)",
            median("small_ranges", "accel", "worker_held_ms"),
            "<",
            10,
        ),
        (
            "proxy ≥ 0.6x direct MB/s on a big range",
            _median_ratio(raw, "big_range", "proxy", "direct", "mb_per_s"),
            ">=",
            0.6,
        ),
        (
            "proxy worker RSS growth < 1 MiB streaming the whole object (MiB)",
            median("worker_memory", "proxy", "rss_growth_mib"),
            "<",
            1,
        ),
    ]
    for mode in ("accel", "proxy", "redirect"):
        rows.append(
            (
                f"{mode} ≥ 6x the old approach's MB/s",
                _median_ratio(raw, "big_range", mode, "old", "mb_per_s"),
                ">=",
                6,
            )
        )
        rows.append(
            (
                f"{mode} ≥ 4x lower p50 than the old approach on 64 KiB ranges",
                _median_ratio(raw, "small_ranges", mode, "old", "total_p50_ms", invert=True),
                ">=",
                4,
            )
        )
    for suffix, streams in (("", "full-speed"), ("_8mbs", "8 MB/s")):
        rows.append(
            (
                f"accel: page p95 under 16 {streams} streams ≤ 1.3x idle",
                median("ordinary_under_load", "accel", f"loaded{suffix}_over_idle"),
                "<=",
                1.3,
            )
        )
    # Issue 18's targets for authorize once (seqr_s3_nginx_authorize_ttl), when the run measured it.
    authorize = "accel+authorize"
    if raw.get("small_ranges", {}).get(authorize):
        rows += [
            (
                "accel+authorize ≤ 1.3x direct p50 on 64 KiB ranges",
                _median_ratio(raw, "small_ranges", authorize, "direct", "total_p50_ms"),
                "<=",
                1.3,
            ),
            (
                "accel+authorize ≥ 0.6x direct req/s at concurrency 8",
                _median_ratio(raw, "concurrency", authorize, "direct", "req_per_s"),
                ">=",
                0.6,
            ),
            (
                "accel+authorize: seqr requests per repetition of IGV sessions (2 URIs: index, BAM; largest)",
                max(
                    (rep.get("seqr_requests", 0) for rep in raw.get("igv_session", {}).get(authorize, [])),
                    default=0,
                ),
                "<=",
                2,
            ),
        ]
        for suffix, streams in (("", "full-speed"), ("_8mbs", "8 MB/s")):
            rows.append(
                (
                    f"accel+authorize: page p95 under 16 {streams} streams ≤ 1.3x idle",
                    median("ordinary_under_load", authorize, f"loaded{suffix}_over_idle"),
                    "<=",
                    1.3,
                )
            )
    checks = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    return [
        {
            "target": text,
            "measured": round(value, 3),
            "bound": f"{op} {limit}",
            "met": checks[op](value, limit),
        }
        for text, value, op, limit in rows
        if value is not None
    ]


def _cell(
    summary: dict, workload: str, variant: str, metric: str, digits: int = 1, ratio: bool = True
) -> str:
    entry = summary.get(workload, {}).get(variant)
    if not entry or metric not in entry:
        return "-"
    spread = entry[metric]
    text = f"{spread['median']:.{digits}f} ({spread['min']:.{digits}f}-{spread['max']:.{digits}f})"
    if ratio and "ratio_to_direct" in entry:
        text += f" **x{entry['ratio_to_direct']['median']:.2f}**"
    return text


def _held(summary: dict, variant: str) -> str:
    """Median ms a gunicorn worker was held per request, for 64 KiB ranges and for the big range."""
    parts = [
        summary.get(workload, {}).get(variant, {}).get("worker_held_ms")
        for workload in ("small_ranges", "big_range")
    ]
    return " / ".join(f"{part['median']:.1f}" for part in parts if part) or "-"


def markdown(document: dict[str, Any]) -> str:
    """The results table (median, min-max over repetitions, bold: median ratio to direct S3) and targets."""
    summary = document["summary"]
    sizes = document["sizes"]
    mib = 1 << 20
    lines = [
        f"Run {document['started']} ({'smoke' if document['smoke'] else 'full'}), {document['repetitions']} "
        f"repetitions, {document['machine']['cores']} cores, load average at start "
        f"{' / '.join(f'{x:.2f}' for x in document['machine']['load_average_start'])}; "
        f"object {sizes['large_object'] // mib} MiB, big range {sizes['big_range'] // mib} MiB.",
        "",
        "| variant | big range MB/s | 64 KiB p50 ms | 64 KiB p95 ms | req/s at c8 | IGV session ms "
        "| worker held ms: 64 KiB / big range | worker RSS growth MiB "
        "| page p95 ms: idle → 16 streams full-speed / 8 MB/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, label in LABELS.items():
        concurrency = "concurrency_threads" if variant == "redirect" else "concurrency"
        load = summary.get("ordinary_under_load", {}).get(variant)
        page = (
            f"{load['idle_p95_ms']['median']:.1f} → {load['loaded_p95_ms']['median']:.1f} / "
            f"{load['loaded_8mbs_p95_ms']['median']:.1f}"
            if load
            else "-"
        )
        lines.append(
            f"| {label} | {_cell(summary, 'big_range', variant, 'mb_per_s', 0)} "
            f"| {_cell(summary, 'small_ranges', variant, 'total_p50_ms', 2)} "
            f"| {_cell(summary, 'small_ranges', variant, 'total_p95_ms', 2, ratio=False)} "
            f"| {_cell(summary, concurrency, variant, 'req_per_s', 0)} "
            f"| {_cell(summary, 'igv_session', variant, 'session_ms', 0)} "
            f"| {_held(summary, variant)} "
            f"| {_cell(summary, 'worker_memory', variant, 'rss_growth_mib', 2, ratio=False)} "
            f"| {page} |"
        )
    lines += [
        "",
        "Redirect's req/s at c8 comes from a Python client that follows the redirect (wrk cannot); its",
        "ratio is to direct S3 measured by that same client.",
        "",
        "| target | measured | bound | met |",
        "|---|---|---|---|",
    ]
    for row in summary["targets"]:
        lines.append(
            f"| {row['target']} | {row['measured']} | {row['bound']} | {'yes' if row['met'] else 'NO'} |"
        )
    lines += slice_cache_lines(summary)
    lines += where_time_goes(document)
    cpu = document.get("where_time_goes_cpu_ms")
    if cpu:
        ours = cpu["seqr_s3_access_check_ms"] + cpu["seqr_s3_presign_ms"]
        lines += [
            "",
            f"A worker's CPU per call, in-process (Django's test client, no network): an accel track request "
            f"costs {cpu['accel_track_request_ms']:.2f} ms; seqr_s3's own work on a file's first request is "
            f"{ours:.2f} ms (access check {cpu['seqr_s3_access_check_ms']:.2f} ms, presign "
            f"{cpu['seqr_s3_presign_ms']:.2f} ms)",
        ]
        if "seqr_s3_access_check_remembered_ms" in cpu:  # results from before the reuse caches lack these
            remembered = cpu["seqr_s3_access_check_remembered_ms"] + cpu["seqr_s3_presign_remembered_ms"]
            lines[-1] += (
                f" and {remembered:.2f} ms on the following ones (registration and presigned URL remembered)"
            )
        lines[-1] += (
            f"; the rest is seqr's session, user and project permission checks and Django. An ordinary page "
            f"request costs {cpu['ordinary_page_request_ms']:.2f} ms."
        )
    return "\n".join(lines) + "\n"


CACHE_LABELS = {
    "direct": LABELS["direct"],
    "accel": LABELS["accel"],
    "accel+cache": "seqr_s3 accel + nginx slice cache",
}


def slice_cache_lines(summary: dict) -> list[str]:
    """The slice cache table: the whole index and 64 KiB ranges, cold (cache emptied) then warm."""
    measured = summary.get("slice_cache", {})
    if not measured:
        return []
    lines = [
        "",
        "The role's optional nginx slice cache (`seqr_s3_nginx_slice_cache`, 1 MiB slices), accel mode: the "
        "whole BAM index and 64 KiB ranges each in a slice of its own, first cold (the cache emptied just "
        "before), then the same requests again (warm); without a cache both passes do the same work. Medians "
        "(min-max) in ms; bold: ratio of the warm 64 KiB p50 to direct S3's.",
        "",
        "| variant | index cold | index warm | 64 KiB cold p50 | 64 KiB cold p95 | 64 KiB warm p50 "
        "| 64 KiB warm p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, label in CACHE_LABELS.items():
        if variant not in measured:
            continue
        cells = [
            _cell(summary, "slice_cache", variant, metric, 2, ratio=metric == "range_warm_p50_ms")
            for metric in (
                "index_cold_ms",
                "index_warm_ms",
                "range_cold_p50_ms",
                "range_cold_p95_ms",
                "range_warm_p50_ms",
                "range_warm_p95_ms",
            )
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _median_of(summary: dict, workload: str, variant: str, metric: str) -> float | None:
    entry = summary.get(workload, {}).get(variant, {}).get(metric)
    return entry["median"] if entry else None


def where_time_goes(document: dict[str, Any]) -> list[str]:
    """Paragraphs saying where an accel request's wall time and CPU go, from the run's own numbers: nginx's
    per-hop timings, gunicorn's busy time, CPU per request of every process at concurrency 8, py-spy."""
    summary = document["summary"]
    lines: list[str] = []

    def small(metric: str, variant: str = "accel") -> float | None:
        return _median_of(summary, "small_ranges", variant, metric)

    parts = {
        name: small(name)
        for name in ("total_p50_ms", "nginx_p50_ms", "app_hop_p50_ms", "s3_hop_p50_ms", "worker_held_ms")
    }
    direct = small("total_p50_ms", "direct")
    if None not in parts.values() and direct is not None:
        # nginx logs whole milliseconds: its own share can come out slightly negative; say "under 1 ms".
        nginx_own = parts["nginx_p50_ms"] - parts["app_hop_p50_ms"] - parts["s3_hop_p50_ms"]
        nginx_own_text = f"{nginx_own:.2f} ms" if nginx_own >= 1 else "under 1 ms (nginx logs whole ms)"
        outside = parts["total_p50_ms"] - parts["nginx_p50_ms"]
        client_text = (
            f"The {outside:.2f} ms between nginx's time and the client's is the client itself and loopback."
            if outside >= 0
            else "nginx's whole-ms timings round above the client's time here."
        )
        lines += [
            "",
            f"Where an accel 64 KiB range's time goes (medians of p50s, ranges one after another on one "
            f"keep-alive connection): the client waits {parts['total_p50_ms']:.2f} ms (direct S3: "
            f"{direct:.2f} ms). nginx holds the request {parts['nginx_p50_ms']:.2f} ms: the hop to seqr "
            f"(connect, seqr's answer with X-Accel-Redirect) takes {parts['app_hop_p50_ms']:.2f} ms, the hop "
            f"to S3 {parts['s3_hop_p50_ms']:.2f} ms, nginx's own share is {nginx_own_text}. {client_text} "
            f"gunicorn counts {parts['worker_held_ms']:.2f} ms per "
            f"request from the parsed request to its last byte sent; where that exceeds the hop, the worker "
            f"was waiting for a core after nginx (woken by its answer) took one.",
        ]
    cpu_lines = []
    for variant in ("direct", "accel", "proxy", "old"):
        entry = summary.get("concurrency", {}).get(variant, {})
        used = {
            metric[len("cpu_ms_") :]: spread["median"]
            for metric, spread in entry.items()
            if metric.startswith("cpu_ms_")
        }
        if used:
            detail = ", ".join(f"{name} {ms:.2f}" for name, ms in sorted(used.items(), key=lambda kv: -kv[1]))
            cpu_lines.append((variant, sum(used.values()), detail))
    if cpu_lines:
        totals = {variant: total for variant, total, _ in cpu_lines}
        text = "; ".join(f"{LABELS[v]} {total:.2f} ms ({detail})" for v, total, detail in cpu_lines)
        lines += [
            "",
            f"At concurrency 8 every process shares the machine's {document['machine']['cores']} cores, so "
            f"CPU per request bounds req/s. CPU ms per 64 KiB request, summed over all processes: {text}.",
        ]
        if "direct" in totals and "accel" in totals:
            lines[-1] += (
                f" On CPU alone accel can reach at most {totals['direct'] / totals['accel']:.2f}x direct "
                f"req/s here, where the S3 server shares the cores (on a real host S3 runs elsewhere)."
            )
    profile = document.get("worker_profile")
    if profile:
        shares = ", ".join(
            f"{name} {share:.0f}%"
            for name, share in profile.items()
            if name != "busy_samples" and share >= 0.5
        )
        lines += [
            "",
            f"py-spy on the accel gunicorn while ranges run one after another "
            f"({profile['busy_samples']} busy worker samples): {shares}.",
        ]
    return lines


def chart(document: dict[str, Any], path: Path) -> None:
    """Bar charts of the ratios to direct S3 (median, whiskers min-max), log scale so the baseline fits."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    summary = document["summary"]
    panels = [
        ("big_range", "big range MB/s ÷ direct (higher is better)"),
        ("small_ranges", "64 KiB p50 latency ÷ direct (lower is better)"),
        ("concurrency", "req/s at concurrency 8 ÷ direct (higher is better)"),
        ("igv_session", "IGV session time ÷ direct (lower is better)"),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    for axis, (workload, title) in zip(axes.flat, panels):
        names, medians, lows, highs = [], [], [], []
        for variant in LABELS:
            source = (
                "concurrency_threads" if workload == "concurrency" and variant == "redirect" else workload
            )
            entry = summary.get(source, {}).get(variant, {}).get("ratio_to_direct")
            if entry is None:
                continue
            names.append(LABELS[variant].replace(" (", "\n("))
            medians.append(entry["median"])
            lows.append(entry["median"] - entry["min"])
            highs.append(entry["max"] - entry["median"])
        bars = axis.bar(names, medians, yerr=[lows, highs], capsize=4, color="#4c72b0")
        axis.bar_label(bars, labels=[f"{value:.2f}" for value in medians], fontsize=7, padding=2)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_title(title, fontsize=10)
        axis.tick_params(axis="x", labelsize=7, rotation=30)
    figure.suptitle(
        f"seqr_s3 benchmarks, {document['started'][:10]} ({document['repetitions']} repetitions, "
        f"{document['machine']['cores']} cores, median and min-max)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str]) -> int:
    """Re-render the table and chart of a results JSON next to it."""
    if len(argv) != 1:
        print("usage: report.py RESULTS.json", file=sys.stderr)
        return 2
    source = Path(argv[0])
    document = json.loads(source.read_text())
    document["summary"] = summarize(document)
    source.with_suffix(".md").write_text(markdown(document))
    chart(document, source.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
