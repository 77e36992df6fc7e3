"""How long `lily --help` takes (issue 17: under 0.5 s), with the floor beside it: the
interpreter alone, and the interpreter importing Typer (which any Typer CLI pays).

    .venv/bin/python -m bench.cli [--runs 20]

Each command runs in a fresh process, `--runs` times; it prints p50 and max in ms, a table
and then one JSON line."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

LILY = "import sys; from lily_cli.main import main; sys.argv[0] = 'lily'; main()"
COMMANDS = {
    "python (nothing)": ["-c", "pass"],
    "python -c 'import typer'": ["-c", "import typer"],
    "lily --help": ["-c", LILY, "--help"],
    "lily tenant --help": ["-c", LILY, "tenant", "--help"],
    "lily --version": ["-c", LILY, "--version"],
}


def _times(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    figures = {}
    print(f"{'command':<28} {'p50 ms':>8} {'max ms':>8}")
    for name, args in COMMANDS.items():
        times = _times(args, runs)
        figures[name] = [round(statistics.median(times), 1), round(max(times), 1)]
        print(f"{name:<28} {figures[name][0]:>8} {figures[name][1]:>8}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
