"""`python -m results_format schema [-o FILE]`: print (or write) the JSON Schema of a results file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from results_format.model import json_schema


def main(argv: list[str] | None = None) -> int:
    """Print or write the JSON Schema; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m results_format", description="The devicebench results format (benchmarks.json)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    schema = sub.add_parser("schema", help="print the JSON Schema of a results file (docs/results-schema.json)")
    schema.add_argument("-o", "--output", type=Path, help="write it here instead of stdout")
    args = parser.parse_args(argv)
    text = json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
