"""`python -m bench run [pytest args]`: run the benchmarks, print the summary, build the report (bench/run_cmd.py)."""

from __future__ import annotations

import sys

from bench import run_cmd

COMMANDS = "usage: python -m bench run [--suite PATH]... [pytest arguments]   (python -m bench run --help)\n"


def main(argv: list[str]) -> int:
    """Dispatch to the one subcommand, `run`; anything else is a usage line and exit 2."""
    if argv[:1] == ["run"]:
        return run_cmd.main(argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(COMMANDS, end="")
        return 0
    print(COMMANDS, end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
