"""Summarize a sweep: python scripts/report.py [SWEEP_FOLDER] (default: the newest folder in outputs/sweeps).

Prints a Markdown table of test accuracy and fit time by data.seq_length and
model.hidden_size, and writes report.md, results.csv and accuracy.png into the
sweep folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from echo_lstm.report import write_report

SWEEPS = Path("outputs") / "sweeps"


def newest_sweep(parent: Path) -> Path | None:
    folders = [path for path in parent.glob("*") if path.is_dir()] if parent.is_dir() else []
    return max(folders, key=lambda path: path.stat().st_mtime, default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", nargs="?", type=Path, help=f"sweep folder (default: the newest in {SWEEPS})")
    args = parser.parse_args()

    sweep_dir = args.sweep_dir or newest_sweep(SWEEPS)
    if sweep_dir is None:
        print(f"error: no sweep folder in {SWEEPS}; run `make sweep` or pass a sweep folder", file=sys.stderr)
        sys.exit(2)
    if not sweep_dir.is_dir():
        print(f"error: sweep folder {sweep_dir} not found; pass an existing folder such as {SWEEPS}/<name>", file=sys.stderr)
        sys.exit(2)

    try:
        report = write_report(sweep_dir)
    except FileNotFoundError as error:
        print(f"error: {error}; pass a folder made by `scripts/train.py -m`", file=sys.stderr)
        sys.exit(2)
    print(report)
    print(f"wrote report.md, results.csv and accuracy.png to {sweep_dir}")


if __name__ == "__main__":
    main()
