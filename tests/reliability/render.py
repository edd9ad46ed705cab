"""Render the figures of a ``make reliability`` run into docs/reliability.md.

``python -m tests.reliability.render FIGURES.json SECONDS`` replaces the text between the
``figures`` markers of docs/reliability.md with tables built from the counters the tests
wrote (``TORIMATOME_FIGURES``). It runs only after the whole run passed, so every check those
counters stand for held.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sqlite3
import sys
from pathlib import Path

from .harness import ROOT

START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def table(rows: list[tuple[str, object]]) -> str:
    lines = ["| what | figure |", "|---|---:|"]
    lines += [f"| {name} | {value:,} |" if isinstance(value, int) else f"| {name} | {value} |"
              for name, value in rows]  # fmt: skip
    return "\n".join(lines)


def render(figures: dict[str, dict[str, int]], seconds: int) -> str:
    p, c, f = figures["processes"], figures["crash"], figures["faults"]
    i, k, z = figures["isolation"], figures["idempotency"], figures["fuzz"]
    entry_points = sorted(name.split(":", 1)[1] for name in z if name.startswith("examples:"))
    examples = sum(z[f"examples:{name}"] for name in entry_points)
    lost = p["lost"]
    duplicated = p["duplicated"]
    parts = [
        f"Last run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `make reliability`, "
        f"{seconds // 60} min {seconds % 60} s on Python {platform.python_version()} with "
        f"SQLite {sqlite3.sqlite_version}, {platform.machine()}.",
        "",
        "### Lost, duplicated, leaked",
        "",
        table(
            [
                ("line moves lost or applied twice (processes)", lost),
                ("mails sent twice or never (processes, crash-free)", duplicated),
                ("invariant violations after the process race", p["violations"]),
                ("invariant violations after the last kill", c["violations"]),
                ("cross-account or cross-user items shown, counted or changed", 0),
            ]
        ),
        "",
        "The last row is zero because every one of the "
        f"{i['cross_checks']:,} isolation checks below is an assertion and the run passed.",
        "",
        "### 1. Processes on one SQLite file",
        "",
        table(
            [
                ("runs", p["runs"]),
                ("processes per run", p["processes"] // max(p["runs"], 1)),
                ("operations (successful or refused)", p["operations"]),
                ("refused with Conflict / InvalidTransition / NotFound", p["refused"]),
                ("line moves checked against version steps", p["moves"]),
                ("mails sent (each Message-ID once)", p["mails_sent"]),
            ]
        ),
        "",
        "### 2. SIGKILL",
        "",
        table(
            [
                ("kill points tried", c["kill_points"]),
                ("workers killed (the rest ran past their kill point)", c["kills"]),
                ("SQL statements (kill points) in one run of the script", c["statements_per_run"]),
                (
                    "cart entries left by a kill between the cart's commit and ours (decide)",
                    c["cart_orphans_reconciled"],
                ),
                (
                    "lines left consolidated outside the cart by such a kill (release)",
                    c["released_out_of_cart_repaired"],
                ),
                ("mails delivered in the end", c["mails_delivered"]),
                (
                    "mails sent again after a kill between sending and mark_sent",
                    c["mails_resent_after_a_kill"],
                ),
            ]
        ),
        "",
        "### 3. Faults in the ports",
        "",
        table(
            [
                (
                    "storage faults injected (every call of every operation, both backends)",
                    f["storage_faults"],
                ),
                ("cart faults injected", f["cart_faults"]),
                ("cart fault scenarios", f["cart_scenarios"]),
                (
                    "transport faults injected (fail, timeout, None, accept-then-fail)",
                    f["transport_faults"],
                ),
                ("mails followed to delivery through those faults", f["mails_checked"]),
                (
                    "mails sent twice because the server's confirmation was lost",
                    f["resent_after_lost_confirmation"],
                ),
            ]
        ),
        "",
        "### 4. Idempotency",
        "",
        table(
            [
                ("random sequences", k["sequences"]),
                ("replays that returned the first result", k["replays"]),
                ("same key, other payload: Conflict", k["key_conflicts"]),
            ]
        ),
        "",
        "### 5. Isolation",
        "",
        table(
            [
                ("random multi-account scenarios", i["scenarios"]),
                ("cross-account / cross-user checks", i["cross_checks"]),
                (
                    "matrix cells called at the entry points (both sides, after role changes)",
                    i["matrix_cells_checked"],
                ),
            ]
        ),
        "",
        "### 6. Hostile input",
        "",
        f"{examples:,} fuzzed calls over {len(entry_points)} entry points, both backends. "
        "Hypothesis does not repeat an example, so the all-valid call comes up about once and "
        "nearly every call carries at least one hostile argument; each refusal was a "
        "torimatome error that changed nothing, and each success a call the hostile value "
        "did not matter to (an ignored None, a harmless text):",
        "",
        "| entry point | examples | refused with a torimatome error |",
        "|---|---:|---:|",
        *[
            f"| `{name}` | {z[f'examples:{name}']:,} | {z[f'refused:{name}']:,} |"
            for name in entry_points
        ],
    ]
    return "\n".join(parts)


def main() -> None:
    figures = json.loads(Path(sys.argv[1]).read_text())
    seconds = int(sys.argv[2])
    doc = ROOT / "docs" / "reliability.md"
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{START}\n{render(figures, seconds)}\n{END}{tail}", encoding="utf-8")
    print(f"figures written to {doc}")


if __name__ == "__main__":
    main()
