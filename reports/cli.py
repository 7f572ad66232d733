"""Command line of ``python -m reports``: subcommand dispatch; no subcommand means ``build``.

Each subcommand is a module ``reports/<name>_cmd.py`` exposing ``add_arguments(parser)``,
``run(args) -> int`` and a module docstring (its first line is the one-line help). Modules are
imported lazily, so a subcommand whose module is missing is simply not offered.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

from reports.load import ResultsFileError

SUBCOMMANDS = ("build", "summary", "compare", "confirm", "export", "fleet", "ingest")
DEFAULT = "build"

EXIT_OK = 0
EXIT_BAD_INPUT = 2

_EPILOG = """\
Without a subcommand, `python -m reports PATH... [-o OUT.html] [--skip-bad]` builds the report
(the same as `python -m reports build ...`). PATH is a run folder (results/<run>), results/latest
or a benchmarks.json file. Exit codes: 0 ok, 2 bad input or usage.
"""


def load_subcommand(name: str) -> ModuleType | None:
    """Import reports.<name>_cmd, or None when that module does not exist."""
    module_name = f"reports.{name}_cmd"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def available_names() -> list[str]:
    """The subcommands whose modules exist, in SUBCOMMANDS order, without importing them."""
    return [name for name in SUBCOMMANDS if importlib.util.find_spec(f"reports.{name}_cmd") is not None]


def available(names: Sequence[str] | None = None) -> dict[str, ModuleType]:
    """Import the named (default: all available) subcommand modules."""
    found = {name: load_subcommand(name) for name in (SUBCOMMANDS if names is None else names)}
    return {name: module for name, module in found.items() if module is not None}


def build_parser(commands: dict[str, ModuleType]) -> argparse.ArgumentParser:
    """The top-level parser with one subparser per available subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description="Build and judge devicebench reports from results files (never imports TensorFlow).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in commands.items():
        doc = (module.__doc__ or name).strip()
        sub = subparsers.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
    return parser


def with_default_command(argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """Insert the default subcommand unless argv names one or asks for the top-level help."""
    args = list(argv)
    if args and (args[0] in commands or args[0] in ("-h", "--help")):
        return args
    return [DEFAULT, *args] if DEFAULT in commands else args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv, run the chosen subcommand and return its exit code."""
    names = available_names()
    args_list = with_default_command(sys.argv[1:] if argv is None else argv, names)
    # import only the chosen subcommand (some pull in scipy); the top-level help lists them all
    commands = available([args_list[0]] if args_list and args_list[0] in names else names)
    parser = build_parser(commands)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(commands[args.command].run(args))
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
