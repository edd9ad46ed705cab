"""The ``torimatome`` command: ``demo`` plays an office, ``matrix`` prints the permissions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .demo import matrix_table, run
from .domain.errors import TorimatomeError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torimatome", description="Consolidated ordering (とりまとめ注文) for B2B shops."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="play a whole office scenario on a fresh SQLite file")
    demo.add_argument(
        "--db",
        default="torimatome-demo.sqlite3",
        help="SQLite file to (re)create (default: ./torimatome-demo.sqlite3)",
    )
    demo.add_argument("--lang", choices=("ja", "en"), default="ja", help="transcript language")
    matrix = commands.add_parser("matrix", help="print the restriction matrix (ユーザー権限)")
    matrix.add_argument("--lang", choices=("ja", "en"), default="ja")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return run(args.db, args.lang)
        print(matrix_table(args.lang))
    except (TorimatomeError, OSError) as exc:
        print(f"torimatome: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
