"""GPU health around a run: NVML error counters before and after it, critical XIDs during it, and a verdict.

    check = HealthCheck.begin(telemetry)     # reads every GPU's counters, starts listening for critical XIDs
    ...the run...
    check.end()                               # reads them again, stops the listener
    check.record(link_seen)                   # results_format.HealthRecord: verdict, facts, counters

A slow figure from a sick GPU is not a regression: a run whose GPU reports uncorrected ECC errors, a pending row
remap, a critical XID or an error counter that rose is `unhealthy`; a link below its maximum, a power limit below
the default or rising corrected ECC is `degraded`. Every NVML call goes through one wrapper: a call the driver
does not support is recorded with its reason, and no NVML error ever stops the run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.hardware.links import pcie_gbs_per_direction
from bench.nvml import Telemetry, _is_unsupported, pynvml
from results_format import GpuHealth, HealthFact, HealthRecord, XidEvent

Counters = dict[str, int | float | None]
POLL_MS = 200  # how long the XID listener waits per call: stop() returns within this

ECC_KINDS = (("corrected", 0), ("uncorrected", 1))  # NVML_MEMORY_ERROR_TYPE_*
ECC_COUNTERS = (("volatile", 0), ("aggregate", 1))  # NVML_VOLATILE_ECC, NVML_AGGREGATE_ECC
NVLINK_ERRORS = (0, 1, 2, 3)  # NVML_NVLINK_ERROR_DL_REPLAY, _RECOVERY, _CRC_FLIT, _CRC_DATA
#: counters that must never rise while the suite runs (each rise makes the run unhealthy), with their labels
MUST_NOT_RISE = {
    "ecc_volatile_uncorrected": "uncorrected ECC errors",
    "retired_pages_dbe": "pages retired for double-bit errors",
    "retired_pages_sbe": "pages retired for single-bit errors",
    "remapped_rows_uncorrectable": "rows remapped for uncorrectable errors",
    "pcie_replay": "PCIe replays",
    "nvlink_errors": "NVLink errors",
}
#: what the XIDs a benchmark can meet mean (NVIDIA's XID catalogue)
XID_MEANINGS = {
    13: "graphics engine exception",
    31: "GPU memory page fault",
    43: "GPU stopped processing",
    45: "preemptive cleanup after an earlier error",
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint",
    62: "internal micro-controller halt",
    63: "row remapping or page retirement recorded",
    64: "row remapping or page retirement failed",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}


# --- reading ---------------------------------------------------------------------------------------------------


def _why(err: BaseException) -> str:
    """The reason a counter was not read, in a few words."""
    if isinstance(err, AttributeError):
        return "not in this nvidia-ml-py"
    return f"{'' if _is_unsupported(err) else 'error: '}{err}"


def _call(name: str, *args: Any) -> Any:
    """pynvml.<name>(*args); AttributeError when this nvidia-ml-py lacks it."""
    return getattr(pynvml, name)(*args)


def _ecc(h: Any) -> Counters:
    return {
        f"ecc_{counter}_{kind}": int(_call("nvmlDeviceGetTotalEccErrors", h, kind_id, counter_id))
        for kind, kind_id in ECC_KINDS
        for counter, counter_id in ECC_COUNTERS
    }


def _retired(h: Any) -> Counters:
    return {
        "retired_pages_sbe": len(_call("nvmlDeviceGetRetiredPages", h, 0)),
        "retired_pages_dbe": len(_call("nvmlDeviceGetRetiredPages", h, 1)),
        "retired_pages_pending": int(_call("nvmlDeviceGetRetiredPagesPendingStatus", h)),
    }


def _remapped(h: Any) -> Counters:
    correctable, uncorrectable, pending, failure = _call("nvmlDeviceGetRemappedRows", h)
    return {
        "remapped_rows_correctable": int(correctable),
        "remapped_rows_uncorrectable": int(uncorrectable),
        "remapped_rows_pending": int(pending),
        "remapped_rows_failure": int(failure),
    }


def _replay(h: Any) -> Counters:
    return {"pcie_replay": int(_call("nvmlDeviceGetPcieReplayCounter", h))}


def _link(h: Any) -> Counters:
    return {
        "pcie_gen": int(_call("nvmlDeviceGetCurrPcieLinkGeneration", h)),
        "pcie_width": int(_call("nvmlDeviceGetCurrPcieLinkWidth", h)),
        "pcie_max_gen": int(_call("nvmlDeviceGetMaxPcieLinkGeneration", h)),
        "pcie_max_width": int(_call("nvmlDeviceGetMaxPcieLinkWidth", h)),
    }


def _power(h: Any) -> Counters:
    return {
        "power_limit_w": _call("nvmlDeviceGetEnforcedPowerLimit", h) / 1000.0,
        "power_default_limit_w": _call("nvmlDeviceGetPowerManagementDefaultLimit", h) / 1000.0,
    }


def _nvlink_errors(h: Any, link: int) -> int | None:
    """The data-link error counters of one NVLink link, summed; None where the driver does not count them."""
    try:
        return sum(int(_call("nvmlDeviceGetNvLinkErrorCounter", h, link, c)) for c in NVLINK_ERRORS)
    except Exception as err:
        if _is_unsupported(err):  # newer GPUs report them as field values only: the link states still count
            return None
        raise


def _nvlink(h: Any) -> Counters:
    states: list[int] = []
    errors: list[int | None] = []
    for link in range(getattr(pynvml, "NVML_NVLINK_MAX_LINKS", 18)):
        try:
            states.append(int(_call("nvmlDeviceGetNvLinkState", h, link)))
        except Exception as err:
            if states and _is_unsupported(err):
                break  # past the last link
            raise
        if states[-1]:
            errors.append(_nvlink_errors(h, link))
    total = None if any(e is None for e in errors) else sum(e for e in errors if e is not None)
    return {"nvlink_links": len(states), "nvlink_active": sum(states), "nvlink_errors": total}


def _hbm_temp(h: Any) -> Counters:
    value = _call("nvmlDeviceGetFieldValues", h, [pynvml.NVML_FI_DEV_MEMORY_TEMP])[0]
    if value.nvmlReturn != pynvml.NVML_SUCCESS:
        raise pynvml.NVMLError(value.nvmlReturn)
    return {"hbm_temp_c": int(value.value.uiVal)}


#: each group of counters and its reader: a group the driver does not support is recorded once, with the reason
GROUPS: dict[str, Callable[[Any], Counters]] = {
    "ecc": _ecc,
    "retired_pages": _retired,
    "remapped_rows": _remapped,
    "pcie_replay": _replay,
    "pcie_link": _link,
    "power_limit": _power,
    "nvlink": _nvlink,
    "hbm_temp": _hbm_temp,
}


def read_counters(handle: Any) -> tuple[Counters, dict[str, str]]:
    """Every health counter of one GPU, and each group it could not read with the reason; never raises."""
    counters: Counters = {}
    unsupported: dict[str, str] = {}
    for group, reader in GROUPS.items():
        try:
            counters.update(reader(handle))
        except Exception as err:  # a health reading never stops the run: an error is recorded like the rest
            unsupported[group] = _why(err)
    return counters, unsupported


# --- critical XIDs during the run -----------------------------------------------------------------------------


class XidWatch:
    """An NVML event set listening for critical XIDs on every GPU, on a background thread until stop()."""

    def __init__(self, gpus: Sequence[tuple[int, Any]], poll_ms: int = POLL_MS) -> None:
        self.gpus = list(gpus)
        self.poll_ms = poll_ms
        self.events: list[XidEvent] = []
        self.status = "not started"
        self._set: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> XidWatch:
        """Register every GPU for critical XIDs and start listening; records why not instead of raising."""
        try:
            self._set = pynvml.nvmlEventSetCreate()
        except Exception as err:
            self.status = f"critical XIDs not watched: event sets {_why(err)}"
            return self
        watched, refused = [], []
        for index, handle in self.gpus:
            try:
                pynvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, self._set)
                watched.append(index)
            except Exception as err:
                refused.append(f"GPU {index}: {_why(err)}")
        if not watched:
            self._free()
            self.status = "critical XIDs not watched: " + "; ".join(refused)
            return self
        self.status = f"critical XIDs watched on {len(watched)} GPU{'s' if len(watched) != 1 else ''}" + (
            f" (not on {'; '.join(refused)})" if refused else ""
        )
        self._thread = threading.Thread(target=self._listen, name="devicebench-xid", daemon=True)
        self._thread.start()
        return self

    def _next(self, timeout_ms: int) -> bool:
        """Wait up to timeout_ms for one event and keep it; False on a timeout."""
        try:
            data = pynvml.nvmlEventSetWait_v2(self._set, timeout_ms)
        except pynvml.NVMLError as err:
            if err.value == pynvml.NVML_ERROR_TIMEOUT:
                return False
            raise
        index = next((i for i, h in self.gpus if h is data.device), None)
        if index is None:
            uuid = pynvml.nvmlDeviceGetUUID(data.device)
            index = next((i for i, h in self.gpus if pynvml.nvmlDeviceGetUUID(h) == uuid), 0)
        with self._lock:
            self.events.append(XidEvent(gpu=index, xid=int(data.eventData)))
        return True

    def _listen(self) -> None:
        """The listener thread: wait for events until stopped; an NVML error ends it and is recorded."""
        try:
            while not self._stop.is_set():
                self._next(self.poll_ms)
        except Exception as err:
            self.status += f"; the listener stopped: {_why(err)}"

    def stop(self) -> list[XidEvent]:
        """Stop listening (within one poll), collect what is still queued, free the set; the events seen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._set is not None:
            try:
                while self._next(0):
                    pass
            except Exception as err:
                self.status += f"; the last events were not read: {_why(err)}"
            self._free()
        return list(self.events)

    def _free(self) -> None:
        """Free the event set, quietly (NVML may already be shut down)."""
        with contextlib.suppress(Exception):  # freeing a set of a GPU that is gone: nothing more to do
            pynvml.nvmlEventSetFree(self._set)
        self._set = None


# --- the verdict (pure) ----------------------------------------------------------------------------------------


def _rank(level: str) -> int:
    return {"unchecked": -1, "healthy": 0, "degraded": 1, "unhealthy": 2}[level]


def _n(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) else None


def gpu_facts(gpu: GpuHealth, link_seen: tuple[int, int] | None = None) -> list[HealthFact]:
    """What one GPU's counters say: the unhealthy and degraded findings, each with the sentence a user reads."""
    g, before, after = gpu.index, gpu.before, gpu.after or {}
    now = {**before, **{k: v for k, v in after.items() if v is not None}}
    facts: list[HealthFact] = []

    def add(level: str, check: str, message: str) -> None:
        facts.append(HealthFact(gpu=g, level=level, check=check, message=f"GPU {g}: {message}"))  # type: ignore[arg-type]

    for group, why in gpu.unsupported.items():
        if "GPU is lost" in why or "GPU_IS_LOST" in why:
            add("unhealthy", "gpu_lost", f"NVML lost the GPU reading {group} ({why})")
    if (count := _n(now.get("ecc_volatile_uncorrected"))) and count > 0:
        add("unhealthy", "ecc_uncorrected", f"{count} uncorrected ECC error(s) since the driver loaded")
    elif (count := _n(now.get("ecc_aggregate_uncorrected"))) and count > 0:
        add(
            "degraded",
            "ecc_uncorrected",
            f"{count} uncorrected ECC error(s) in its lifetime (none since the driver loaded)",
        )
    if (count := _n(now.get("remapped_rows_pending"))) and count > 0:
        add("unhealthy", "remap_pending", "a row remap is pending: reset the GPU before trusting its numbers")
    if (count := _n(now.get("remapped_rows_failure"))) and count > 0:
        add("unhealthy", "remap_failure", "row remapping failed: the GPU needs service")
    if (count := _n(now.get("retired_pages_pending"))) and count > 0:
        add("unhealthy", "retired_pages_pending", "a page retirement is pending: reset the GPU before trusting it")
    for key, label in MUST_NOT_RISE.items():
        start, end = _n(before.get(key)), _n(after.get(key))
        if start is not None and end is not None and end > start:
            add("unhealthy", "counter_rose", f"{label} rose from {start} to {end} during the run")
    start, end = _n(before.get("ecc_volatile_corrected")), _n(after.get("ecc_volatile_corrected"))
    if start is not None and end is not None and end > start:
        add("degraded", "ecc_corrected_rose", f"corrected ECC errors rose from {start} to {end} during the run")
    facts += _link_facts(g, [before, now], link_seen)
    limit, default = _n(now.get("power_limit_w")), _n(now.get("power_default_limit_w"))
    if limit is not None and default and limit < default * 0.99:
        add(
            "degraded",
            "power_limit",
            f"power limit {limit:g} W, below its default {default:g} W (heavy cases are capped)",
        )
    links, active = _n(now.get("nvlink_links")), _n(now.get("nvlink_active"))
    if links and active and active < links:
        add("degraded", "nvlink_down", f"{links - active} of {links} NVLink links down")
    return facts


def _link_facts(g: int, readings: Sequence[Mapping[str, Any]], link_seen: tuple[int, int] | None) -> list[HealthFact]:
    """A PCIe link trained below what the GPU and its slot support, in the fastest state seen.

    GPUs lower their link generation when idle (to Gen1), so a generation counts only as seen while a case ran
    on the GPU (`link_seen`); a width below the maximum counts in any reading.
    """
    last = readings[-1]
    max_gen, max_width = _n(last.get("pcie_max_gen")), _n(last.get("pcie_max_width"))
    states = [(r.get("pcie_gen"), r.get("pcie_width")) for r in readings] + [link_seen or (None, None)]
    seen = [(gen, width) for gen, width in states if gen and width]
    if not seen or not max_gen or not max_width:
        return []
    gen, width = max(seen, key=lambda gw: pcie_gbs_per_direction(*gw) or 0.0)
    slow_gen = link_seen is not None and max(link_seen[0], gen) < max_gen
    if not slow_gen and width >= max_width:
        return []
    have, could = pcie_gbs_per_direction(gen, width), pcie_gbs_per_direction(int(max_gen), int(max_width))
    share = f" ({have / could:.0%} of its bandwidth)" if have and could else ""
    message = f"GPU {g}: PCIe link at Gen{gen} x{width}, below the Gen{max_gen:g} x{max_width:g} it supports{share}"
    return [HealthFact(gpu=g, level="degraded", check="pcie_link", message=message)]


def xid_facts(events: Sequence[XidEvent]) -> list[HealthFact]:
    """Each critical XID during the run, as an unhealthy finding."""
    return [
        HealthFact(
            gpu=e.gpu,
            level="unhealthy",
            check="xid",
            message=f"GPU {e.gpu}: XID {e.xid}"
            + (f" ({XID_MEANINGS[e.xid]})" if e.xid in XID_MEANINGS else "")
            + " during the run",
        )
        for e in events
    ]


def judge(
    gpus: Sequence[GpuHealth],
    xids: Sequence[XidEvent] = (),
    link_seen: Mapping[int, tuple[int, int]] | None = None,
) -> tuple[str, str, list[HealthFact]]:
    """(verdict, one-line reason, facts) of a run's counters and XIDs: the worst finding decides."""
    if not gpus:
        return "unchecked", "no GPU was read", []
    facts = [f for gpu in gpus for f in gpu_facts(gpu, (link_seen or {}).get(gpu.index))] + xid_facts(xids)
    verdict = max((f.level for f in facts), key=_rank, default="healthy")
    if verdict == "healthy":
        n = len(gpus)
        return (
            verdict,
            f"{n} GPU{'s' if n != 1 else ''}: no error counters, links and power limits at their maximum",
            [],
        )
    worst = [f.message for f in facts if f.level == verdict]
    return verdict, "; ".join(worst), facts


# --- a run's check ---------------------------------------------------------------------------------------------


@dataclass
class HealthCheck:
    """The health check of one run: counters at begin() and end(), XIDs in between, the record for the file."""

    reason: str = ""  # why not checked (empty when checked)
    gpus: list[GpuHealth] = field(default_factory=list)
    handles: list[tuple[int, Any]] = field(default_factory=list)
    watch: XidWatch | None = None
    xids: list[XidEvent] = field(default_factory=list)
    ended: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # tools and concurrent records, added by their runners

    @classmethod
    def off(cls, reason: str) -> HealthCheck:
        """A check that checks nothing, saying why (no NVML, --no-health)."""
        return cls(reason=reason)

    @classmethod
    def begin(cls, telemetry: Telemetry, watch_xids: bool = True) -> HealthCheck:
        """Read every GPU's counters and start listening for critical XIDs (off, with the reason, without NVML)."""
        if not telemetry.enabled:
            return cls.off(f"NVML off: {telemetry.reason}")
        check = cls(handles=telemetry.handles())
        for index, handle in check.handles:
            counters, unsupported = read_counters(handle)
            check.gpus.append(GpuHealth(index=index, before=counters, unsupported=unsupported))
        if watch_xids:
            check.watch = XidWatch(check.handles).start()
        return check

    def header_line(self) -> str:
        """The run header's health line: what is read, or why nothing is."""
        if self.reason:
            return f"off ({self.reason})"
        bad = [f.message for gpu in self.gpus for f in gpu_facts(gpu) if f.level == "unhealthy"]
        watch = self.watch.status if self.watch is not None else "critical XIDs not watched"
        line = f"counters read on {len(self.gpus)} GPU{'s' if len(self.gpus) != 1 else ''} before the run; {watch}"
        return line + (f"; UNHEALTHY before the first case: {'; '.join(bad)}" if bad else "")

    def end(self) -> None:
        """Stop listening and read every GPU's counters again (once; a no-op when off)."""
        if self.ended or self.reason:
            return
        self.ended = True
        if self.watch is not None:
            self.xids = self.watch.stop()
        for i, (gpu, (_, handle)) in enumerate(zip(self.gpus, self.handles, strict=True)):
            counters, unsupported = read_counters(handle)
            changed = {k: v for k, v in counters.items() if gpu.before.get(k, "absent") != v}  # the rest equal before
            self.gpus[i] = gpu.model_copy(update={"after": changed, "unsupported": {**gpu.unsupported, **unsupported}})

    def close(self) -> None:
        """Stop the listener thread without reading anything (the run ends without finish)."""
        if self.watch is not None and not self.ended:
            self.watch.stop()

    def _watch_status(self) -> str:
        """How critical XIDs were watched (empty when the check is off)."""
        if self.reason:
            return ""
        return self.watch.status if self.watch is not None else "critical XIDs not watched"

    def record(self, link_seen: Mapping[int, tuple[int, int]] | None = None) -> HealthRecord:
        """The run's health as the results file keeps it (the XIDs so far while the run goes on)."""
        others = {k: v for k, v in self.extra.items() if k != "facts"}
        tool_facts: list[HealthFact] = list(self.extra.get("facts", []))  # e.g. a failed dcgmi diag test
        if self.reason:
            verdict, reason, facts, xids = "unchecked", self.reason, [], []
        else:
            xids = self.xids if self.ended or self.watch is None else list(self.watch.events)
            verdict, reason, facts = judge(self.gpus, xids, link_seen)
        if tool_facts:
            facts = facts + tool_facts
            verdict = max([verdict, *(f.level for f in tool_facts)], key=_rank)
            reason = "; ".join(f.message for f in facts if f.level == verdict)
        return HealthRecord(
            verdict=verdict,  # type: ignore[arg-type]
            reason=reason,
            facts=facts,
            gpus=self.gpus,
            xids=xids,
            xid_watch=""
            if self.reason
            else self.watch.status
            if self.watch is not None
            else "critical XIDs not watched",
            **others,
        )
