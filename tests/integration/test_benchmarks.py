"""The benchmarks still run: a tiny size, each operation twice, figures ignored.

``make bench`` is timed and slow, so it is not part of ``make test``; this keeps its generator,
baseline and report from rotting between runs.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import generate, report
from benchmarks.run import run_size


def test_the_generator_is_deterministic_and_has_the_promised_backlog() -> None:
    first, again = generate.build_plan(2000, seed=3), generate.build_plan(2000, seed=3)
    assert first.lines == again.lines
    assert len(first.lines) == 2000
    pending = [
        ln for ln in first.lines if ln[2] == generate.MAIN and ln[10] in ("requested", "on_hold")
    ]
    assert len(pending) == generate.PENDING


def test_every_benchmark_runs_on_both_adapters_and_the_baseline(tmp_path: Path) -> None:
    figures = run_size("smoke", 1500, tmp_path, smoke=True)
    assert set(figures["ops"]) == set(report.TARGETS)
    for op in figures["ops"].values():
        assert set(op) == {"memory", "sqlite", "baseline"}
        assert all(kind["median"] > 0 for kind in op.values())
    assert figures["holds"]["sqlite"]["units"] >= 1
    meta = {"command": "test", "elapsed_seconds": 0, "machine": report.machine(),
            "platform": "test", "python": "3", "sqlite": "3", "torimatome": "0",
            "date": "today"}  # fmt: skip
    report.write(tmp_path / "docs", meta, {"smoke": figures}, plot=False)
    text = (tmp_path / "docs" / "performance.md").read_text()
    assert all(op in text for op in report.TARGETS)
