"""The report's first screen: per device, the headline figures with % of peak, the verdict against the published
reference, the node-health verdict, and what changed since the host's previous run.

Headlines: the best matmul per precision, memory bandwidth, the host link, a training and an inference figure,
each the best case of its kind in the host's newest run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports import envelope
from reports.labels import device_labels

if TYPE_CHECKING:
    from reports.load import Run

__all__ = ["HEALTH", "Card", "cards", "health_of"]

#: (figure, which rows, the column holding the % of the ceiling it is judged against)
HEADLINES: tuple[tuple[str, Callable[[pd.DataFrame], pd.Series], str], ...] = (
    ("memory bandwidth", lambda f: f["workload"] == "membw", "pct_of_bandwidth"),
    ("host link", lambda f: (f["workload"] == "transfer") & (f["device_kind"] == "gpu"), "pct_of_link"),
    ("training", lambda f: f["workload"].isin(["resnet50_train", "mnist", "mnist_amp"]), "pct_of_peak"),
    ("inference", lambda f: f["workload"] == "inference", "pct_of_peak"),
)
#: the tidy columns the cards read
CARD_COLUMNS = (
    "host", "run", "backend", "device", "device_kind", "device_name", "workload", "name", "precision_label",
    "throughput", "throughput_unit", "pct_of_peak", "pct_of_bandwidth", "pct_of_link", "ref_value",
)  # fmt: skip
#: a change since the previous run this large is shown as a change (smaller ones are run-to-run noise)
CHANGED = 0.05


def health_of(run: Run) -> str | None:
    """The node-health verdict of a run, or None when it has none.

    INTEGRATOR: wire this to the health helper's function in reports/health.py (it reads the run's optional
    `health` field); until then no card shows a health line. HEALTH below is the hook the cards call.
    """
    return None


#: the function the cards call for a run's health verdict (replaceable, e.g. by reports.health)
HEALTH: Callable[[Run], str | None] = health_of


@dataclass
class Card:
    """One device's scorecard: a title, its health and previous run, and one row per headline figure."""

    title: str
    run: str
    health: str | None
    previous: str | None
    columns: list[str] = field(
        default_factory=lambda: ["figure", "measured", "% of peak", "vs published", "since previous run"]
    )
    rows: list[list[str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # per row: 'low', 'in line', 'above', 'changed' or ''


def _measured(value: float, unit: str) -> str:
    """A throughput as text, GFLOP/s shown as TFLOP/s when large."""
    if unit == "GFLOP/s" and value >= 1000:
        value, unit = value / 1000, "TFLOP/s"
    return f"{value:,.4g} {unit}".strip() if abs(value) < 1e4 else f"{value:,.0f} {unit}".strip()


def _percent(value: Any) -> str:
    """A percentage column's value as text ('' when missing)."""
    return "" if value is None or pd.isna(value) else f"{float(value):.0f} %"


def _versus(row: pd.Series) -> tuple[str, str]:
    """(verdict text, kind) of a case against its published figure; ('', '') without one."""
    published = row.get("ref_value")
    if published is None or pd.isna(published) or not published:
        return "", ""
    kind, short = envelope.judge(float(row["throughput"]), float(published))
    return short.replace(" of the best published)", ")"), kind


def _since(row: pd.Series, previous: pd.DataFrame) -> tuple[str, bool]:
    """('+12 %' or '±0 %', whether it changed) against the same case in the previous run; ('', False) without."""
    match = previous[previous["name"] == row["name"]]["throughput"].dropna() if not previous.empty else previous
    if match.empty or not math.isfinite(float(match.iloc[0])) or not float(match.iloc[0]):
        return "", False
    change = float(row["throughput"]) / float(match.iloc[0]) - 1
    return f"{change:+.1%}", abs(change) >= CHANGED


def _headline_rows(part: pd.DataFrame) -> list[tuple[str, pd.Series, str]]:
    """(figure, the best case's row, its % column) for each headline this device measured."""
    found = []
    rows = part[part["throughput"].notna()]
    matmul = rows[rows["workload"].isin(["matmul", "peaks"])]
    for precision, group in matmul.groupby("precision_label", sort=True):
        found.append((f"matmul {precision}", group.loc[group["throughput"].astype(float).idxmax()], "pct_of_peak"))
    for figure, which, column in HEADLINES:
        group = rows[which(rows)]
        if not group.empty:
            units = group["throughput_unit"].mode()
            group = group[group["throughput_unit"] == units.iloc[0]] if not units.empty else group
            found.append((figure, group.loc[group["throughput"].astype(float).idxmax()], column))
    return found


def _previous(history: pd.DataFrame | None, host: str, run: str) -> tuple[str | None, pd.DataFrame]:
    """The run of `host` just before `run` in the history, and its rows (None and empty without one)."""
    if history is None or history.empty:
        return None, pd.DataFrame(columns=["name", "throughput"])
    mine = history[history["host"] == host]
    at = mine.loc[mine["run"] == run, "position"]
    if at.empty:
        return None, pd.DataFrame(columns=["name", "throughput"])
    before = mine[mine["position"] < int(at.iloc[0])]
    if before.empty:
        return None, pd.DataFrame(columns=["name", "throughput"])
    last = before[before["position"] == before["position"].max()]
    return str(last["run"].iloc[0]), last


def cards(frame: pd.DataFrame, runs: Sequence[Run], history: pd.DataFrame | None = None) -> list[Card]:
    """One card per device of each host's newest run (a tidy frame of `runs`; `history`: history_frame columns)."""
    if frame.empty:
        return []
    newest = {}
    for run in sorted(runs, key=lambda r: (r.record.datetime, r.name)):
        newest[run.host] = run
    newest_names = {host: run.name for host, run in newest.items()}
    wanted = [c for c in CARD_COLUMNS if c in frame.columns]  # a narrow frame: the row filters below stay cheap
    keep = frame[[newest_names.get(h) == r for h, r in zip(frame["host"], frame["run"], strict=True)]][wanted]
    labels = device_labels(frame).loc[keep.index]
    out = []
    for label, part in keep.groupby(labels, sort=True):
        host, run_name = str(part["host"].iloc[0]), str(part["run"].iloc[0])
        model = part["device_name"].dropna()
        previous_run, previous = _previous(history, host, run_name)
        card = Card(
            title=f"{label}: {model.iloc[0]}" if not model.empty else str(label),
            run=run_name,
            health=HEALTH(newest[host]),
            previous=previous_run,
        )
        for figure, row, column in _headline_rows(part):
            versus, kind = _versus(row)
            since, changed = _since(row, previous)
            card.rows.append(
                [figure, _measured(float(row["throughput"]), str(row["throughput_unit"] or "")),
                 _percent(row.get(column)), versus, since]
            )  # fmt: skip
            card.kinds.append(kind or ("changed" if changed else ""))
        if card.rows:
            out.append(_without_empty_columns(card))
    return out


def _without_empty_columns(card: Card) -> Card:
    """The card without the columns no row fills (no published figures, no previous run)."""
    keep = [i for i in range(len(card.columns)) if i == 0 or any(row[i] for row in card.rows)]
    card.columns = [card.columns[i] for i in keep]
    card.rows = [[row[i] for i in keep] for row in card.rows]
    return card
