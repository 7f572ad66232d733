"""Checks of option values shared by the subcommands: each problem is one sentence for an `error:` line (exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from reports import specs

__all__ = ["positive_int", "seed_problem", "workload_problem"]


def seed_problem(seed: int) -> str | None:
    """Why a --seed is refused (numpy's generators take non-negative integers), or None."""
    return None if seed >= 0 else f"--seed must be a non-negative integer, got {seed}"


def workload_problem(option: str, names: Iterable[str]) -> str | None:
    """Why workload names given to `option` are refused (one not in the registry), naming the valid ones; or None."""
    known = specs.known()
    unknown = [name for name in names if name not in known]
    if not unknown:
        return None
    return f"{option}: unknown workload {unknown[0]!r} (valid: {', '.join(sorted(known))})"


def positive_int(text: str) -> int:
    """argparse type: a whole number, at least 1 (a window of runs, runs in detail)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value
