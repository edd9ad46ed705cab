"""Writes the figures of a benchmark run: ``performance.md``, ``performance.json`` and a plot."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "machine", "verdicts", "write"]

#: torimatome (SQLite) / baseline medians allowed, per operation.
TARGETS = {
    "submit": 1.5,
    "submit_no_mail": 1.5,
    "decide": 1.5,
    "post_message": 1.5,
    "deliver_mail_1000": 1.5,
    "purge_month": 1.5,
    "pending": 2.0,
    "pending_count": 2.0,
    "history_period": 2.0,
    "history_requester": 2.0,
    "history_both": 2.0,
    "status_page": 2.0,
}
#: Queries that must stay flat: median at the largest size ≤ 1.5 × median at the smallest.
FLAT = [
    "pending",
    "pending_count",
    "history_period",
    "history_requester",
    "history_both",
    "status_page",
]
HOLD_LIMIT = 0.100


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 1 else f"{seconds * 1e3:,.0f}"


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, figure, met) for every target, from the figures of a run."""
    out: list[tuple[str, str, bool]] = []
    for op, limit in TARGETS.items():
        worst = max(
            (r["ops"][op]["sqlite"]["median"] / r["ops"][op]["baseline"]["median"], size)
            for size, r in results.items()
        )
        out.append(
            (
                f"{op}: SQLite / baseline ≤ {limit}",
                f"{worst[0]:.2f} (at {worst[1]})",
                worst[0] <= limit,
            )
        )
    sizes = list(results)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for adapter in ("sqlite", "memory"):
            for op in FLAT:
                growth = (
                    results[large]["ops"][op][adapter]["median"]
                    / results[small]["ops"][op][adapter]["median"]
                )
                out.append(
                    (
                        f"{op} ({adapter}) flat: {large} / {small} ≤ 1.5",
                        f"{growth:.2f}",
                        growth <= 1.5,
                    )
                )
        for adapter in ("sqlite", "memory"):
            peaks = [results[s]["history_peak_kib"][adapter] for s in sizes]
            growth = peaks[-1] / peaks[0]
            out.append(
                (
                    f"history page memory ({adapter}) independent of size (≤ 1.5×)",
                    " → ".join(f"{p:.0f} KiB" for p in peaks),
                    growth <= 1.5,
                )
            )
    for adapter in ("sqlite", "memory"):
        worst_hold = max(r["holds"][adapter]["max"] for r in results.values())
        out.append(
            (
                f"purge ({adapter}): every write unit holds the lock ≤ 100 ms",
                f"longest {worst_hold * 1e3:.1f} ms",
                worst_hold <= HOLD_LIMIT,
            )
        )
    return out


def write(
    out_dir: Path, meta: dict[str, Any], results: dict[str, Any], *, plot: bool = True
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "performance.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1) + "\n"
    )
    plotted = plot and _plot(out_dir / "performance.png", results)
    (out_dir / "performance.md").write_text(_markdown(meta, results, plotted))


def _markdown(meta: dict[str, Any], results: dict[str, Any], plotted: bool) -> str:
    sizes = list(results)
    lines = [
        "# Performance",
        "",
        "<!-- Written by `make bench` (benchmarks/); the notes come from benchmarks/NOTES.md. -->",
        "",
        f"Measured on {meta['date']} with `{meta['command']}` in {meta['elapsed_seconds']:.0f} s "
        f"(building the databases included).",
        "",
        f"- Machine: {meta['machine']}; {meta['platform']}",
        f"- Python {meta['python']}, SQLite {meta['sqlite']}, torimatome {meta['torimatome']}",
        "- Data (`benchmarks/generate.py`, fixed seed): one large account holding 95 % of the "
        "lines, ~1 internal user per 330 lines, 18 months of requests, 500 pending lines from "
        "30 requesters, a thread on one request in four, one delivered mail per request.",
        "- Baseline (`benchmarks/baseline.py`): the same operation written directly in "
        "`sqlite3` on a copy of the same file (same schema, indexes, pragmas and transactions), "
        "measured in the same run, calls interleaved with torimatome's.",
        "- Times are wall-clock per call in milliseconds; the ratio is torimatome's median over "
        "the baseline's median. The memory adapter is compared with the same SQLite baseline "
        "(it does no I/O, so its writes are far below it).",
        "",
        "| size | requests | lines | messages | mails | users |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        r = results[size]["rows"]
        lines.append(
            f"| {size} | {r['requests']:,} | {r['lines']:,} | {r['messages']:,} | "
            f"{r['mails']:,} | {r['users']:,} |"
        )
    lines += ["", "## Targets", "", "| target | figure | met |", "|---|---|---|"]
    for target, figure, met in verdicts(results):
        lines.append(f"| {target} | {figure} | {'yes' if met else '**no**'} |")
    lines += ["", "## Ratios to the baseline (median / median)", ""]
    header = (
        "| operation | target | " + " | ".join(f"SQLite {s} | memory {s}" for s in sizes) + " |"
    )
    lines += [header, "|---|---:|" + "---:|---:|" * len(sizes)]
    for op, limit in TARGETS.items():
        cells = []
        for s in sizes:
            figures = results[s]["ops"][op]
            b = figures["baseline"]["median"]
            cells.append(f"{figures['sqlite']['median'] / b:.2f}")
            cells.append(f"{figures['memory']['median'] / b:.2f}")
        lines.append(f"| {op} | ≤ {limit} | " + " | ".join(cells) + " |")
    for size in sizes:
        r = results[size]
        lines += [
            "",
            f"## {size} lines: median / p95 in ms",
            "",
            "| operation | n | baseline | SQLite | memory |",
            "|---|---:|---:|---:|---:|",
        ]
        for op in TARGETS:
            f = r["ops"][op]
            lines.append(
                f"| {op} | {f['sqlite']['n']:.0f} | "
                + " | ".join(
                    f"{_ms(f[k]['median'])} / {_ms(f[k]['p95'])}"
                    for k in ("baseline", "sqlite", "memory")
                )
                + " |"
            )
        holds = r["holds"]
        lines += [
            "",
            "Purge write units (lock held per transaction, ms): "
            + "; ".join(
                f"{k}: {v['units']:.0f} units, median {v['median'] * 1e3:.1f}, "
                f"p95 {v['p95'] * 1e3:.1f}, max {v['max'] * 1e3:.1f}"
                for k, v in holds.items()
            )
            + ".",
            "",
            "Peak memory allocated by one history page (tracemalloc): "
            + ", ".join(f"{k} {v:.0f} KiB" for k, v in r["history_peak_kib"].items())
            + ".",
            "",
            "Build (not measured): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in r["build_seconds"].items())
            + ".",
        ]
    if plotted:
        lines += [
            "",
            "## Time per operation against database size",
            "",
            "![time per operation](performance.png)",
        ]
    lines += ["", "## Notes", "", "NOTES_PLACEHOLDER", ""]
    notes = Path(__file__).with_name("NOTES.md")
    text = "\n".join(lines)
    body = notes.read_text().strip() if notes.exists() else ""
    return text.replace("NOTES_PLACEHOLDER", body)


def _plot(path: Path, results: dict[str, Any]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing (pip install -e '.[bench]'): no plot written")
        return False
    sizes = list(results)
    xs = [results[s]["lines"] for s in sizes]
    ops = list(TARGETS)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.5), sharey=True)
    for ax, kind in zip(axes, ("baseline", "sqlite", "memory"), strict=True):
        for index, op in enumerate(ops):
            ys = [results[s]["ops"][op][kind]["median"] * 1e3 for s in sizes]
            style = "-" if op in FLAT else "--"  # reads solid, writes dashed
            color = plt.get_cmap("tab20")(index % 20)
            ax.plot(xs, ys, marker="o", linestyle=style, color=color, label=op)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(
            {
                "baseline": "raw sqlite3 baseline",
                "sqlite": "torimatome, SQLite",
                "memory": "torimatome, memory",
            }[kind]
        )
        ax.set_xlabel("request lines in the database")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("median time per call (ms); reads solid, writes dashed")
    axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main() -> None:
    """Re-render performance.md and the plot from performance.json (after editing NOTES.md):
    ``python -m benchmarks.report [folder]``. The figures are those of the recorded run."""
    import sys

    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    recorded = json.loads((out_dir / "performance.json").read_text())
    write(out_dir, recorded["meta"], recorded["results"])


if __name__ == "__main__":
    main()
