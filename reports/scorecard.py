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

from reports import envelope, health
from reports.labels import device_labels

if TYPE_CHECKING:
    from reports.load import Run

__all__ = ["Card", "cards", "health_of"]

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
    "tf32", "throughput", "throughput_unit", "pct_of_peak", "pct_of_bandwidth", "pct_of_link", "ref_value",
)  # fmt: skip
#: a change since the previous run this large is shown as a change (smaller ones are run-to-run noise)
CHANGED = 0.05


def health_of(run: Run) -> str | None:
    """The node-health verdict of a run as a card shows it ('healthy', 'UNHEALTHY: why'); None when not recorded."""
    verdict, reason = health.health_badge(run)
    if verdict == "healthy":
        return "healthy"
    if health.record_of(run) is None:
        return None
    return f"{verdict.upper()}: {reason}"


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
    same = previous["name"] == row["name"] if not previous.empty else None
    if same is not None and "tf32" in previous.columns and row.get("tf32") is not None and not pd.isna(row["tf32"]):
        # float32 with TF32 on and off are two precisions: never the "change" from one to the other
        same &= previous["tf32"].isna() | (previous["tf32"] == bool(row["tf32"]))
    match = previous[same]["throughput"].dropna() if same is not None else previous
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


def _previous(
    history: pd.DataFrame | None, host: str, run: str, profile: str | None
) -> tuple[str | None, pd.DataFrame]:
    """The run of `host` with the same profile just before `run` in the history, and its rows (None and empty
    without one): a peaks run is not the previous run of a standard one."""
    none = None, pd.DataFrame(columns=["name", "throughput"])
    if history is None or history.empty:
        return none
    mine = history[history["host"] == host]
    if profile is not None and "profile" in mine.columns:
        mine = mine[mine["profile"] == profile]
    at = mine.loc[mine["run"] == run, "position"]
    if at.empty:
        return none
    before = mine[mine["position"] < int(at.iloc[0])]
    if before.empty:
        return none
    last = before[before["position"] == before["position"].max()]
    return str(last["run"].iloc[0]), last


def cards(frame: pd.DataFrame, runs: Sequence[Run], history: pd.DataFrame | None = None) -> list[Card]:
    """One card per device of each host: each headline from the host's newest run that measured it (a tidy frame
    of `runs`; `history`: history_frame columns, for the change since the previous run of the same profile)."""
    if frame.empty:
        return []
    order = sorted(runs, key=lambda r: (r.record.datetime, r.name), reverse=True)
    rank = {(run.host, run.name): i for i, run in enumerate(order)}
    profiles = {(run.host, run.name): run.record.devicebench.profile for run in runs}
    newest = {}
    for run in reversed(order):
        newest[run.host] = run
    wanted = [c for c in CARD_COLUMNS if c in frame.columns]  # a narrow frame: the row filters below stay cheap
    keep = frame[wanted]
    labels = device_labels(frame)
    out = []
    for label, part in keep.groupby(labels, sort=True):
        host = str(part["host"].iloc[0])
        model = part["device_name"].dropna()
        card = Card(
            title=f"{label}: {model.iloc[0]}" if not model.empty else str(label),
            run="",
            health=health_of(newest[host]) if host in newest else None,
            previous=None,
        )
        used: list[str] = []
        before: list[str] = []
        seen: set[str] = set()
        for run_name in sorted(part["run"].unique(), key=lambda r: rank.get((host, r), 0)):
            previous_run, previous = _previous(history, host, run_name, profiles.get((host, run_name)))
            for figure, row, column in _headline_rows(part[part["run"] == run_name]):
                if figure in seen:
                    continue
                seen.add(figure)
                used += [run_name] if run_name not in used else []
                before += [previous_run] if previous_run and previous_run not in before else []
                versus, kind = _versus(row)
                since, changed = _since(row, previous)
                card.rows.append(
                    [figure, _measured(float(row["throughput"]), str(row["throughput_unit"] or "")),
                     _percent(row.get(column)), versus, since]
                )  # fmt: skip
                card.kinds.append(kind or ("changed" if changed else ""))
        card.run, card.previous = ", ".join(used), ", ".join(before) or None
        if card.rows:
            out.append(_without_empty_columns(card))
    return out


def _without_empty_columns(card: Card) -> Card:
    """The card without the columns no row fills (no published figures, no previous run)."""
    keep = [i for i in range(len(card.columns)) if i == 0 or any(row[i] for row in card.rows)]
    card.columns = [card.columns[i] for i in keep]
    card.rows = [[row[i] for i in keep] for row in card.rows]
    return card
