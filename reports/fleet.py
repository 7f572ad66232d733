"""Fleet health: each host's throughput per case against its peers with the same device model (pure).

The input is a tidy frame with one row per (host, case) of each host's newest run, with the
columns ``host, device_name, device, device_kind, backend, workload, name, throughput,
throughput_unit, median_s`` and the environment columns of :data:`FACTS`.

The rule, per device model (a GPU model, or the CPU model for CPU cases):

1. The unit judged is one device of one host (``node7 GPU:3``). A case is matched across units
   with its device index taken out of its name, so ``GPU:3`` of one host meets ``GPU:0`` .. ``GPU:7``
   of the others; backend, workload and parameters stay part of the case.
2. Per case, a unit's ratio is its throughput over the fleet median of that case: the median over
   the hosts of that model of each host's own median (so every host counts once, whatever its
   number of GPUs). A median of three or more hosts is not pulled by one slow host; leaving the
   host out instead would average two peers in a fleet of three. A ratio needs at least
   ``min_peer_hosts`` other hosts (default 2, so a model needs 3 hosts: with 2, which one is
   slow cannot be told).
3. Per unit, the typical ratio is the median of its case ratios, with a seeded percentile
   bootstrap interval over its cases (95 %). At least ``min_cases`` cases (default 3) are needed.
4. ``slow``: typical ratio <= 1 - threshold (10 %) **and** the interval's upper end < 1 - floor (2 %),
   so a host is flagged only when most of its cases agree. ``fast`` mirrors it (shown, not failing).
5. The outlier score is a robust z of the unit's log typical ratio among the units of its model,
   0.6745 (x - median) / MAD, with the MAD floored at 0.01 (about 1 %) so that identical peers do
   not make every small difference infinite. It is shown beside the verdict, not part of it: in a
   fleet split in two halves nobody is an outlier, yet the slow half is still slow.
6. Likely causes of a slow unit: the environment facts in which its host differs from the
   majority of the other hosts of its model (GPU health first, driver, CUDA/cuDNN, framework versions, clocks).
7. A host whose own run recorded an unhealthy GPU (bench.health) is flagged on its own, whatever its speed;
   the GPUs of a host that ran `--concurrent` are each set against that host's median, and its stragglers
   are listed (a slow GPU in a healthy host is named even when no other host has its model).

A host is listed as missing when an expected host (a hosts file, or a count) has no run.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FACTS",
    "Fact",
    "FleetResult",
    "Options",
    "case_key",
    "case_ratios",
    "judge",
    "likely_causes",
    "missing_hosts",
    "to_json",
    "to_markdown",
    "unit_verdicts",
]

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_NOTHING_JUDGED = 2

#: the robust z-score's scale: 0.6745 = the normal distribution's 75th percentile, so z ~ N(0, 1) for normal data.
_MAD_SCALE = 0.6745
_MAD_FLOOR = 0.01


@dataclass(frozen=True)
class Fact:
    """One environment column: its label, whether it only matters for GPUs, and how it is compared."""

    column: str
    label: str
    gpu_only: bool = False
    #: "same": differs when not the peers' majority value; "measured": more than 5 % off the peers' median.
    compare: str = "same"


#: the environment columns (from reports.fleet_facts.host_facts) that may explain a slow host, most likely first.
FACTS: tuple[Fact, ...] = (
    Fact("health", "GPU health (bench.health)", gpu_only=True),
    Fact("throttled", "GPU clock-event (throttle) reasons", gpu_only=True),
    Fact("sm_clock_mhz", "SM clock under load (MHz)", gpu_only=True, compare="measured"),
    Fact("pcie_link", "PCIe link under load", gpu_only=True),
    Fact("gpu_max_sm_clock_mhz", "max SM clock (MHz)", gpu_only=True),
    Fact("gpu_power_limit_w", "GPU power limit (W)", gpu_only=True),
    Fact("nvidia_driver", "NVIDIA driver", gpu_only=True),
    Fact("cuda_driver", "CUDA driver API", gpu_only=True),
    Fact("cuda", "CUDA build", gpu_only=True),
    Fact("cudnn", "cuDNN build", gpu_only=True),
    Fact("frameworks", "framework versions"),
    Fact("cpu_model", "CPU model"),
    Fact("cpu_cores", "CPU cores"),
    Fact("container_image", "container image"),
    Fact("python", "Python"),
)
_MEASURED_TOLERANCE = 0.05


@dataclass(frozen=True)
class Options:
    """The judging rule's knobs (see the module docstring)."""

    threshold: float = 0.10
    floor: float = 0.02
    confidence: float = 0.95
    min_peer_hosts: int = 2
    min_cases: int = 3
    resamples: int = 2000
    seed: int = 0
    outlier_z: float = 3.5


@dataclass(frozen=True)
class FleetResult:
    """The fleet's verdicts: one row per unit, the per-case ratios, and the hosts that are missing."""

    units: pd.DataFrame
    ratios: pd.DataFrame
    hosts: list[str]
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    unexpected: list[str] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    unhealthy: dict[str, str] = field(default_factory=dict)  # host -> the reason its own run recorded
    stragglers: dict[str, str] = field(default_factory=dict)  # host -> its GPUs behind its median, all at once

    @property
    def slow_hosts(self) -> list[str]:
        """The hosts with at least one slow unit, sorted."""
        if self.units.empty:
            return []
        return sorted(self.units.loc[self.units["verdict"] == "slow", "host"].unique())

    @property
    def judged(self) -> int:
        """How many units (a device of a host) were judged against their peers."""
        return 0 if self.units.empty else int((self.units["verdict"] != "not judged").sum())

    @property
    def exit_code(self) -> int:
        """1 when a host is slow or unhealthy or an expected host has no run; else 2 when no unit was judged; else 0."""
        if self.slow_hosts or self.missing_count or self.unhealthy:
            return EXIT_UNHEALTHY
        return EXIT_HEALTHY if self.judged else EXIT_NOTHING_JUDGED

    def nothing_judged_text(self) -> str:
        """Why no unit was judged, for the one error line of a fleet check that judged nothing."""
        if self.units.empty:
            return "nothing judged: the runs hold no measured case"
        reasons = list(dict.fromkeys(self.units["reason"]))
        more = f" (+{len(reasons) - 2} more reasons)" if len(reasons) > 2 else ""
        return (
            f"nothing judged: none of {len(self.units)} device(s) on {len(self.hosts)} host(s) could be judged: "
            + "; ".join(reasons[:2])
            + more
        )


def case_key(name: str, device: str | None) -> str:
    """A case's name with its device's index taken out, so the same case on GPU:0 and GPU:3 matches."""
    if not device:
        return name
    kind = device.split(":", 1)[0]
    return re.sub(rf"(?<![\w:]){re.escape(device)}(?![\w:])", kind, name)


def _speed(frame: pd.DataFrame) -> pd.Series:
    """Throughput where recorded, else 1 / median time (proportional within one case)."""
    throughput = pd.to_numeric(frame["throughput"], errors="coerce")
    median = pd.to_numeric(frame["median_s"], errors="coerce")
    inverse = 1.0 / median.where(median > 0)
    return throughput.where(throughput > 0, inverse)


def case_ratios(frame: pd.DataFrame, options: Options | None = None) -> pd.DataFrame:
    """One row per (host, device, case): the unit's speed over the fleet median of that case for its model."""
    options = options or Options()
    columns = [
        "device_name",
        "host",
        "device",
        "device_kind",
        "workload",
        "key",
        "name",
        "speed",
        "fleet_median",
        "peer_hosts",
        "ratio",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    data = frame.assign(
        speed=_speed(frame),
        key=[case_key(str(n), str(d)) for n, d in zip(frame["name"], frame["device"], strict=True)],
        device_name=frame["device_name"].fillna("unknown device"),
    ).dropna(subset=["speed"])
    # per (model, case): the median over hosts of each host's median speed, and how many other hosts ran it;
    # one groupby for the fleet, not a loop over cases and rows (seconds at 256 hosts)
    per_host = data.groupby(["device_name", "key", "host"], sort=True)["speed"].median()
    per_case = per_host.groupby(level=["device_name", "key"], sort=True)
    fleet = pd.DataFrame({"fleet_median": per_case.median(), "peer_hosts": per_case.size() - 1}).reset_index()
    data = data.sort_values(["device_name", "key"], kind="stable").merge(fleet, on=["device_name", "key"], how="left")
    data["speed"] = data["speed"].astype(float)
    data["fleet_median"] = data["fleet_median"].astype(float)
    judged = (data["peer_hosts"] >= options.min_peer_hosts) & (data["fleet_median"] > 0)
    data["ratio"] = (data["speed"] / data["fleet_median"]).where(judged)
    return data[columns].reset_index(drop=True)


def _bootstrap(logs: np.ndarray, options: Options, unit: str) -> tuple[float, float]:
    """The percentile interval of the median of `logs`, resampling cases; seeded per unit."""
    rng = np.random.default_rng([options.seed, zlib.crc32(unit.encode())])
    samples = logs[rng.integers(0, logs.size, size=(options.resamples, logs.size))]
    medians = np.median(samples, axis=1)
    tail = (1.0 - options.confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return float(np.exp(low)), float(np.exp(high))


def _verdict(ratio: float, low: float, high: float, options: Options) -> str:
    """slow, fast or ok from the typical ratio and its interval."""
    if ratio <= 1.0 - options.threshold and high < 1.0 - options.floor:
        return "slow"
    if ratio >= 1.0 + options.threshold and low > 1.0 + options.floor:
        return "fast"
    return "ok"


def _robust_z(values: pd.Series) -> pd.Series:
    """0.6745 (log x - median) / max(MAD, 0.01) over the finite values; nan elsewhere."""
    logs = np.log(values.astype(float))
    finite = logs[np.isfinite(logs)]
    if finite.empty:
        return pd.Series(np.nan, index=values.index)
    centre = float(np.median(finite))
    mad = max(float(np.median(np.abs(finite - centre))), _MAD_FLOOR)
    return _MAD_SCALE * (logs - centre) / mad


def _workload_ratios(ratios: pd.DataFrame) -> dict[tuple[Any, Any, Any], str]:
    """Per (model, host, device): its median ratio per workload, e.g. 'matmul 0.80x, mnist 0.97x'.

    One groupby over the fleet: a groupby per unit cost seconds at 256 hosts.
    """
    judged = ratios.dropna(subset=["ratio", "workload"])
    medians = judged.groupby(["device_name", "host", "device", "workload"], sort=True, dropna=False)["ratio"].median()
    texts: dict[tuple[Any, Any, Any], list[str]] = {}
    for (model, host, device, workload), ratio in medians.items():
        texts.setdefault((model, host, device), []).append(f"{workload} {ratio:.2f}x")
    return {unit: ", ".join(parts) for unit, parts in texts.items()}


def unit_verdicts(ratios: pd.DataFrame, options: Options | None = None) -> pd.DataFrame:
    """One row per (model, host, device): typical ratio, interval, verdict, reason, outlier score, slow cases."""
    options = options or Options()
    columns = [
        "device_name",
        "host",
        "device",
        "device_kind",
        "cases",
        "ratio",
        "low",
        "high",
        "verdict",
        "reason",
        "outlier_z",
        "outlier",
        "workloads",
        "slow_cases",
    ]
    rows: list[dict[str, Any]] = []
    workloads = _workload_ratios(ratios)
    # Each unit's rows as positions into numpy arrays, in the groupby's order: a pandas slice per unit cost
    # seconds at 256 hosts. Within a unit the rows keep their order, as groupby keeps it.
    grouped = ratios.groupby(["device_name", "host", "device"], sort=True, dropna=False)
    codes = grouped.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(grouped.ngroups + 1))
    models, hosts, devices, kinds = (
        ratios[c].to_numpy(dtype=object) for c in ("device_name", "host", "device", "device_kind")
    )
    keys = ratios["key"].to_numpy(dtype=object)
    values = ratios["ratio"].to_numpy(dtype=float)
    peer_counts = ratios["peer_hosts"].to_numpy(dtype=float)
    for start, end in itertools.pairwise(bounds):
        at = order[start:end]
        first = at[0]
        model, host, device = models[first], hosts[first], devices[first]
        judged = at[~np.isnan(values[at])]
        row: dict[str, Any] = {
            "device_name": model,
            "host": host,
            "device": device,
            "device_kind": kinds[first],
            "cases": len(judged) if len(judged) else len(at),
            "ratio": math.nan,
            "low": math.nan,
            "high": math.nan,
            "workloads": workloads.get((model, host, device), ""),
            "slow_cases": [],
        }
        peers = int(np.nanmax(peer_counts[at]))
        if peers < options.min_peer_hosts:
            row["verdict"] = "not judged"
            row["reason"] = (
                f"{peers + 1} host(s) with {model}: at least {options.min_peer_hosts + 1} are needed to tell "
                "which one is slow"
            )
        elif len(judged) < options.min_cases:
            row["verdict"] = "not judged"
            row["reason"] = f"{len(judged)} case(s) shared with its peers: at least {options.min_cases} are needed"
        else:
            logs = np.log(values[judged])
            low, high = _bootstrap(logs, options, f"{host}|{device}|{model}")
            ratio = float(np.exp(np.median(logs)))
            row.update(ratio=ratio, low=low, high=high, verdict=_verdict(ratio, low, high, options), reason="")
            slow = judged[values[judged] <= 1.0 - options.threshold]
            slow = slow[np.argsort(values[slow], kind="quicksort")]  # pandas' sort_values: the same order of ties
            row["slow_cases"] = [(str(keys[i]), float(values[i])) for i in slow]
        rows.append(row)
    units = pd.DataFrame(rows, columns=[c for c in columns if c not in ("outlier_z", "outlier")])
    if units.empty:
        return pd.DataFrame(columns=columns)
    units["outlier_z"] = units.groupby("device_name", group_keys=False)["ratio"].apply(_robust_z)
    units["outlier"] = units["outlier_z"].abs() >= options.outlier_z
    return units[columns]


def _text(value: Any) -> str | None:
    """A fact's value as text; None when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def likely_causes(facts: pd.DataFrame, host: str, peers: Iterable[str], gpu: bool) -> list[str]:
    """The facts in which `host` differs from the majority (or, measured, the median) of `peers`.

    `facts` has one row per host (index: host) and the columns of :data:`FACTS` that are known.
    """
    peers = [p for p in peers if p != host and p in facts.index]
    if host not in facts.index or not peers:
        return []
    causes: list[str] = []
    for fact in FACTS:
        if fact.column not in facts.columns or (fact.gpu_only and not gpu):
            continue
        mine = facts.at[host, fact.column]
        theirs = facts.loc[peers, fact.column]
        if fact.compare == "measured":
            values = pd.to_numeric(theirs, errors="coerce").dropna()
            number = pd.to_numeric(pd.Series([mine]), errors="coerce").iloc[0]
            if values.empty or pd.isna(number):
                continue
            reference = float(values.median())
            if reference > 0 and abs(float(number) / reference - 1.0) > _MEASURED_TOLERANCE:
                causes.append(f"{fact.label}: {_text(number)} (peers' median {_text(round(reference, 1))})")
            continue
        counts = Counter(_text(v) for v in theirs)
        counts.pop(None, None)
        if not counts:
            continue
        majority, votes = counts.most_common(1)[0]
        mine_text = _text(mine)
        if mine_text != majority and votes * 2 > sum(counts.values()):
            causes.append(
                f"{fact.label}: {mine_text or 'unknown'} (peers: {majority} on {votes} of {len(peers)} hosts)"
            )
    return causes


def missing_hosts(
    present: Iterable[str], expected: Sequence[str] = (), expect_count: int | None = None
) -> tuple[list[str], int, list[str]]:
    """(missing host names, how many are missing, present hosts not expected) from a host list or a count."""
    found = set(present)
    if expected:
        wanted = list(dict.fromkeys(expected))
        missing = [h for h in wanted if h not in found]
        return missing, len(missing), sorted(found - set(wanted))
    if expect_count is not None:
        return [], max(0, expect_count - len(found)), []
    return [], 0, []


def judge(
    frame: pd.DataFrame,
    options: Options | None = None,
    expected: Sequence[str] = (),
    expect_count: int | None = None,
) -> FleetResult:
    """Ratios, verdicts with likely causes, and missing hosts for a fleet frame (see the module docstring)."""
    options = options or Options()
    ratios = case_ratios(frame, options)
    units = unit_verdicts(ratios, options)
    known = [f.column for f in FACTS if f.column in frame.columns]
    facts = frame.drop_duplicates("host").set_index("host")[known] if not frame.empty else pd.DataFrame()
    causes = []
    peers_of = ratios.groupby("device_name", sort=False)["host"].unique() if not ratios.empty else {}
    for row in units.itertuples(index=False):
        if row.verdict != "slow":
            causes.append([])
            continue
        peers = peers_of[row.device_name]
        causes.append(likely_causes(facts, row.host, peers, gpu=row.device_kind == "gpu"))
    states = frame.drop_duplicates("host").set_index("host")["run_state"] if "run_state" in frame.columns else None
    run_states = [states.get(host, "complete") if states is not None else "complete" for host in units["host"]]
    units = units.assign(causes=causes, run_state=run_states)
    hosts = sorted(frame["host"].dropna().unique()) if not frame.empty else []
    missing, missing_count, unexpected = missing_hosts(hosts, expected, expect_count)
    unhealthy, stragglers = _health_flags(frame)
    return FleetResult(
        unhealthy=unhealthy,
        stragglers=stragglers,
        units=units,
        ratios=ratios,
        hosts=hosts,
        missing=missing,
        missing_count=missing_count,
        unexpected=unexpected,
        options=options,
    )


def _health_flags(frame: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Hosts whose own run was unhealthy (with its reason), and hosts with stragglers: flagged whatever the peers."""
    if frame.empty or "health" not in frame.columns:
        return {}, {}
    hosts = frame.drop_duplicates("host").set_index("host")
    unhealthy = {
        str(host): str(row.get("health_reason") or "")
        for host, row in hosts.iterrows()
        if row.get("health") == "unhealthy"
    }
    stragglers = {str(host): str(text) for host, text in hosts.get("stragglers", pd.Series()).items() if _text(text)}
    return dict(sorted(unhealthy.items())), dict(sorted(stragglers.items()))


def _ratio_text(value: float) -> str:
    """A ratio as '0.80x'; empty when unknown."""
    return "" if value is None or not math.isfinite(value) else f"{value:.2f}x"


def _z_text(value: float) -> str:
    """A z-score with a sign; empty when unknown."""
    return "" if value is None or not math.isfinite(value) else f"{value:+.1f}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def unit_notes(row: Any, limit: int = 4) -> str:
    """The 'why' column of one unit: the reason it was not judged, or its slow cases and likely causes."""
    state = getattr(row, "run_state", "complete")
    parts = [] if state == "complete" else [f"no complete run: judged on an {state}"]
    if row.verdict == "not judged":
        return ". ".join([*parts, row.reason])
    if row.verdict == "slow":
        shown = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in row.slow_cases[:limit])
        more = f" (+{len(row.slow_cases) - limit} more)" if len(row.slow_cases) > limit else ""
        parts.append(f"slow cases: {shown}{more}" if shown else "no single case below the threshold")
        parts.append(
            "likely causes: "
            + (
                "; ".join(row.causes)
                if row.causes
                else "none recorded (look at cooling, PCIe link width, neighbours, BIOS settings)"
            )
        )
    if row.workloads:
        parts.append(f"per workload: {row.workloads}")
    return ". ".join(parts)


def summary_line(result: FleetResult) -> str:
    """One line: how many hosts, which are slow, how many are missing."""
    slow = result.slow_hosts
    text = f"{len(result.hosts)} host(s)"
    text += f"; slow: {', '.join(slow)}" if slow else "; no slow host"
    if result.unhealthy:
        text += f"; unhealthy: {', '.join(result.unhealthy)}"
    if result.stragglers:
        text += f"; stragglers on {', '.join(result.stragglers)}"
    if result.missing_count:
        names = f" ({', '.join(result.missing)})" if result.missing else ""
        text += f"; {result.missing_count} expected host(s) without a run{names}"
    if not result.judged:
        text += "; nothing judged" + (" (see the reasons)" if not result.units.empty else " (no measured case)")
    return text


def to_markdown(result: FleetResult) -> str:
    """The fleet table in Markdown: slow units first, then the others, then missing hosts."""
    o = result.options
    lines = [
        f"## Fleet: {summary_line(result)}",
        "",
        f"Each host's throughput per case over the fleet median of that case (hosts with the same device model); "
        f"a unit is slow when its median ratio is <= {1 - o.threshold:.2f}x and the {o.confidence:.0%} interval "
        f"(bootstrap over cases) stays below {1 - o.floor:.2f}x.",
        "",
    ]
    if result.unhealthy:
        lines += ["**Unhealthy hosts** (their own runs' GPU health, whatever their speed):"]
        lines += [f"- {host}: {reason}" for host, reason in result.unhealthy.items()]
        lines.append("")
    if result.stragglers:
        lines += ["**Stragglers** (each GPU against its own host's median, all GPUs at once: --concurrent):"]
        lines += [f"- {host}: {text}" for host, text in result.stragglers.items()]
        lines.append("")
    if not result.units.empty:
        order = {"slow": 0, "fast": 1, "ok": 2, "not judged": 3}
        units = result.units.sort_values(
            ["verdict", "device_name", "ratio", "host"], key=lambda c: c.map(order) if c.name == "verdict" else c
        )
        lines += [
            "| verdict | device model | host | device | vs peers | interval | outlier z | cases | notes |",
            "|---|---|---|---|---:|---|---:|---:|---|",
        ]
        for row in units.itertuples(index=False):
            interval = f"{row.low:.2f}-{row.high:.2f}" if math.isfinite(row.low) else ""
            z = _z_text(row.outlier_z) + (" (outlier)" if row.outlier else "")
            cells = [
                row.verdict,
                str(row.device_name),
                str(row.host),
                str(row.device),
                _ratio_text(row.ratio),
                interval,
                z,
                str(row.cases),
                unit_notes(row),
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if result.missing_count:
        names = ", ".join(result.missing) if result.missing else "names unknown (a count was given)"
        lines += [f"**Missing hosts** ({result.missing_count}): {names}", ""]
    if result.unexpected:
        lines += [f"Hosts not in the expected list: {', '.join(result.unexpected)}", ""]
    return "\n".join(lines)


def _finite(value: Any) -> float | None:
    """A finite float, else None (JSON has no nan or inf)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def to_json(result: FleetResult) -> dict[str, Any]:
    """The verdicts as a JSON-ready dict: options, hosts, units (with slow cases and causes), missing hosts."""
    units = [
        {
            "device_name": row.device_name,
            "host": row.host,
            "device": row.device,
            "verdict": row.verdict,
            "reason": row.reason,
            "ratio": _finite(row.ratio),
            "interval": [_finite(row.low), _finite(row.high)],
            "outlier_z": _finite(row.outlier_z),
            "cases": int(row.cases),
            "workloads": row.workloads,
            "slow_cases": [{"case": name, "ratio": ratio} for name, ratio in row.slow_cases],
            "likely_causes": list(row.causes),
            "run_state": row.run_state,
        }
        for row in result.units.itertuples(index=False)
    ]
    ratios = [
        {
            "host": r.host,
            "device": r.device,
            "device_name": r.device_name,
            "case": r.key,
            "ratio": _finite(r.ratio),
            "peer_hosts": int(r.peer_hosts),
        }
        for r in result.ratios.itertuples(index=False)
    ]
    o = result.options
    return {
        "summary": summary_line(result),
        "exit_code": result.exit_code,
        "options": {
            "threshold": o.threshold,
            "floor": o.floor,
            "confidence": o.confidence,
            "min_peer_hosts": o.min_peer_hosts,
            "min_cases": o.min_cases,
            "seed": o.seed,
        },
        "hosts": result.hosts,
        "slow_hosts": result.slow_hosts,
        "unhealthy_hosts": result.unhealthy,
        "stragglers": result.stragglers,
        "missing_hosts": result.missing,
        "missing_count": result.missing_count,
        "unexpected_hosts": result.unexpected,
        "units": units,
        "ratios": ratios,
    }
