"""Regenerate every golden run under tests/data by running the real plugin on scripted hosts (by hand, not in tests).

    /work/main/.nox/tests/bin/python tests/data/make_golden.py        # from the repository root, ~1 min

Each run is `python -m pytest bench -p tests.golden_plugin ...` in a subprocess: the real devicebench plugin on
the scripted backends of tests/fake_backend.py, on a host from tests/fake_hosts.py, timed on a virtual clock (so
the files are the same on every machine and every regeneration). Its run folder is then moved to a stable name.
It makes 25 runs:

    runs/20261120-090000-laptop          CPU-only host, tensorflow (a CPU-only build), smoke: every workload, the
                                         multi-device ones on two logical devices of the CPU; the serving and
                                         training ones on a CPU without bfloat16 (its mixed precisions skipped)
    runs/20261121-120000-gpubox          one H100 SXM (detected as h100-sxm: its spec, its PCIe gen5 link), full
                                         profile: matmul up to n=16384 (~370 TFLOP/s float32 with TF32, 76 % of
                                         its peak; float16 and bfloat16 from n=8192 hit the power cap), memory
                                         bandwidth, pageable copies, idle power, energy per case, NVML timeline;
                                         scaling and all-reduce on CPU logical devices, skipped on its one GPU;
                                         the GPU's batch sweeps: MNIST up to 32768 and ResNet-50 at 224 px up to
                                         1024 in three precisions, float32 out of memory at 1024; torch asked for
                                         but not installed
    runs/20261122-080000-workstation     RTX 4090 + RTX A4000 (NVML lists them the other way round; the A4000's
                                         SKU is not in the spec table), standard, tensorflow, and both backends'
                                         multi-device cases on the GPUs: scaling (MNIST, ResNet-50) and all-reduce
                                         over both GPUs with NCCL; out-of-memory skips of the largest
                                         memory-bandwidth arrays on the A4000 that others share
    backends/20261123-100000-mixedbox    tensorflow and torch on one H100 host, smoke: torch's pinned and
                                         both-directions copies, CPU logical devices and gloo processes; inference
                                         latency, checkpoints, dispatch, mixed precision, the sweeps and ResNet-50
                                         training of both backends on the GPU, and their causal attention at 2048
                                         tokens (torch's SDPA kernels, TensorFlow's XLA)
    history/202611DD-020000-nightly      five nightly runs of one L4 host (a few cases of each workload, smoke);
                                         matmul n512 on the GPU 35 % slower from the fourth run on
    compare/baseline, same, regressed, other-driver
                                         the regression gate's runs (six cases, standard profile): an A/A pair;
                                         n256 2x slower, n1024 2x faster, MNIST and tf.data noisy, the h2d copy
                                         out of memory and a d2h copy new; another driver and TF version
    fleet/20261124-03MM00-node-[abcd]    four A100 hosts (a few cases of each workload, smoke); node-c 20 %
                                         slower on every case (its GPU throttled), node-d on another driver
    incomplete/20261124-100000-stopbox   SIGTERM during its sixth case: state interrupted, five cases kept
    incomplete/20261124-110000-killbox   SIGKILL during its sixth case: state running, five cases kept
    sustained/20261125-140000-gpubox     the sustained profile for 12 s on the H100 of a host that cools it
                                         poorly: it reaches its thermal limit about halfway (throttle reason,
                                         lower clocks and power, slower rounds), every round's checksum right
    sustained/20261125-150000-sdcbox     the sustained profile for 1.2 s on an H100 whose result goes wrong from
                                         round 3 on: the GPU case fails at round 3 (an error skip), the CPU's is kept
    peaks/20261126-120000-mixedbox       the peaks profile with torch on the H100 host, 5 s per GPU dtype: the best
                                         searched shape per dtype (FP8 included) beats square n by ~5 %; the
                                         H100's reference envelope recorded, every searched figure in line
    health/20261127-090000-sickbox       eight H100 SXM, their health read around the run and --concurrent: GPU 2 has
                                         a pending row remap and GPU 6 an XID 79 during the run (unhealthy), GPU 3
                                         trained its link at Gen4 x8 (degraded), GPU 5 is 12 % slow when all eight
                                         run at once (a straggler); cases on CPU:0 and GPU:0 only
    health/20261124-032000-node-e        a fifth A100 host of the fleet with a pending row remap: as fast as its
                                         peers, flagged unhealthy on its own
    health/20261124-032500-node-f        the fleet's A100 host with eight GPUs and --concurrent: GPU 5 12 % slow,
                                         named as a straggler of its healthy host

and derives the files under bad/ that the results format must refuse from compare/baseline cut to its first case
(the hand-written corrupt.json, foreign.json and empty-folder/ stay as they are).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: results_format is the repository's

import results_format  # noqa: E402

BAD = HERE / "bad"
BAD_SOURCE = HERE / "compare" / "baseline"  # the smallest complete golden run
#: a few cases of each single-device workload the smoke profile runs, for the runs whose reports compare hosts or
#: runs rather than show everything (the multi-device ones need two GPUs, which these hosts do not have)
SAMPLER = (
    "(matmul and float32) or (mnist and function and not amp and not batch) or fed-step or (transfer and 16MiB) "
    "or (membw and 64MiB)"
)
#: the workloads that serve and train, and attention (-k keywords): runs that compare hosts or backends on other
#: workloads leave them out
NEW_WORKLOADS = "(inference or checkpoint or dispatch or mnist_amp or mnist_batch or resnet50_train or attention)"
COMPARE_CASES = (
    "CPU:0-n256-float32",
    "CPU:0-n512-float32",
    "GPU:0-n1024-float32",
    "GPU:0-eager-b64",
    "CPU:0-autotune-cache-prefetch",
    "GPU:0-h2d-pageable-1MiB",
)
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
NESTING_DEPTH = 1_000  # pydantic's JSON parser refuses nesting deeper than about 200 levels


@dataclass(frozen=True)
class GoldenRun:
    """One run to make: where it goes, the scripted host, the pytest arguments and how the run must end."""

    target: str  # under tests/data
    host: str  # DEVICEBENCH_FAKE_HOST
    start: str  # DEVICEBENCH_FAKE_START
    profile: str = "smoke"
    backend: str = "tensorflow"
    select: str | None = None  # -k
    name: str | None = None  # DEVICEBENCH_HOST (default: the scripted host's name)
    options: tuple[str, ...] = ()  # more pytest options
    env: dict[str, str] = field(default_factory=dict)  # more DEVICEBENCH_FAKE_* settings
    exit_codes: tuple[int, ...] = (0,)
    state: str = "complete"


def compare_run(target: str, start: str, seed: int, *, extra: tuple[str, ...] = (), **env: str) -> GoldenRun:
    """A run of the compare set on the CI host: its cases (and `extra` ones), a seed for fresh noise."""
    select = " or ".join((*COMPARE_CASES, *extra))
    return GoldenRun(target, "cibox", start, "standard", select=select, env={"SEED": str(seed), **env})


RUNS = (
    GoldenRun("runs/20261120-090000-laptop", "laptop", "2026-11-20T09:00:00+00:00"),
    GoldenRun(
        "runs/20261121-120000-gpubox",
        "gpubox",
        "2026-11-21T12:00:00+00:00",
        "full",
        "tensorflow,torch",
        # of the serving and training workloads, the GPU's batch sweeps (ResNet-50 float32 at 1024 does not fit)
        select=f"not {NEW_WORKLOADS} or (GPU and (resnet50_train or mnist_batch))",
    ),
    GoldenRun(
        "runs/20261122-080000-workstation",
        "workstation",
        "2026-11-22T08:00:00+00:00",
        "standard",
        "tensorflow,torch",
        # the multi-device cases on GPUs only (the laptop's and mixedbox's runs have a CPU's)
        select=(
            f"(tensorflow and not (CPU and (scaling or allreduce)) and not {NEW_WORKLOADS}) "
            "or (torch and GPU and (scaling or allreduce))"
        ),
        options=("--nvml-interval-ms", "50"),
    ),
    GoldenRun(
        "backends/20261123-100000-mixedbox",
        "mixedbox",
        "2026-11-23T10:00:00+00:00",
        "smoke",
        "tensorflow,torch",
        # the serving and training workloads on the GPU (the laptop's on a CPU); attention on it at 2048 tokens
        select=f"not {NEW_WORKLOADS} or (GPU and not attention) or (GPU and attention and s2048)",
    ),
    *(
        GoldenRun(
            f"history/202611{day:02d}-020000-nightly",
            "nightly",
            f"2026-11-{day:02d}T02:00:00+00:00",
            select=SAMPLER,
            env={"SEED": str(day), **({"SLOW": "*GPU:0-n512-float32=1.35"} if day >= 4 else {})},
        )
        for day in range(1, 6)
    ),
    compare_run("compare/baseline", "2026-11-20T09:00:00+00:00", 1),
    compare_run("compare/same", "2026-11-20T10:00:00+00:00", 2),
    compare_run(
        "compare/regressed",
        "2026-11-20T11:00:00+00:00",
        3,
        extra=("GPU:0-d2h-pageable-1MiB",),
        SLOW="*CPU:0-n256-float32=2.0;*GPU:0-n1024-float32=0.5",
        NOISE="*mnist*=0.5;*tfdata*=0.5;*GPU:0-eager-b64*=0.5;*autotune-cache-prefetch*=0.5",
        FAULTS="oom_on=*GPU:0-h2d-pageable-1MiB",
    ),
    compare_run(
        "compare/other-driver", "2026-11-20T12:00:00+00:00", 4, DRIVER="560.35.03", VERSIONS="tensorflow=2.20.0"
    ),
    *(
        GoldenRun(
            f"fleet/20261124-03{minute:02d}00-node-{node}",
            "fleet-hot" if node == "c" else "fleet",
            f"2026-11-24T03:{minute:02d}:00+00:00",
            select=SAMPLER,
            name=f"node-{node}",
            env={"SEED": str(minute), **({"DRIVER": "555.42.06"} if node == "d" else {})},
        )
        for minute, node in ((0, "a"), (5, "b"), (10, "c"), (15, "d"))
    ),
    GoldenRun(
        "incomplete/20261124-100000-stopbox",
        "cibox",
        "2026-11-24T10:00:00+00:00",
        name="stopbox",
        env={"FAULTS": "signal=SIGTERM@6"},
        exit_codes=(2,),
        state="interrupted",
    ),
    GoldenRun(
        "incomplete/20261124-110000-killbox",
        "cibox",
        "2026-11-24T11:00:00+00:00",
        name="killbox",
        env={"FAULTS": "signal=SIGKILL@6"},
        exit_codes=(-signal.SIGKILL,),
        state="running",
    ),
    GoldenRun(
        "sustained/20261125-140000-gpubox",
        "gpubox",
        "2026-11-25T14:00:00+00:00",
        "sustained",
        select="GPU",
        env={"HEAT": "5"},
        options=("--sustained-minutes", "0.2", "--nvml-interval-ms", "100"),
    ),
    GoldenRun(
        "sustained/20261125-150000-sdcbox",
        "cibox",
        "2026-11-25T15:00:00+00:00",
        "sustained",
        name="sdcbox",
        env={"FAULTS": "corrupt=*GPU:0*@3"},
        options=("--sustained-minutes", "0.02"),
        exit_codes=(1,),
    ),
    GoldenRun(
        "health/20261127-090000-sickbox",
        "sickbox",
        "2026-11-27T09:00:00+00:00",
        select=SAMPLER,
        options=("--devices", "CPU:0,GPU:0", "--concurrent"),
        env={"HEALTH": "GPU:2=remap_pending;GPU:6=xid79;GPU:3=gen4_x8", "SLOW": "concurrent-*-GPU:5=1.1364"},
    ),
    GoldenRun(
        "health/20261124-032000-node-e",
        "fleet",
        "2026-11-24T03:20:00+00:00",
        select=SAMPLER,
        name="node-e",
        env={"SEED": "20", "HEALTH": "GPU:0=remap_pending"},
    ),
    GoldenRun(
        "health/20261124-032500-node-f",
        "fleet8",
        "2026-11-24T03:25:00+00:00",
        select=SAMPLER,
        name="node-f",
        options=("--devices", "CPU:0,GPU:0", "--concurrent"),
        env={"SEED": "25", "SLOW": "concurrent-*-GPU:5=1.1364"},
    ),
    GoldenRun(
        "peaks/20261126-120000-mixedbox",
        "mixedbox",
        "2026-11-26T12:00:00+00:00",
        "peaks",
        backend="torch",
        options=("--peaks-seconds", "5"),
    ),
)


def run_env(run: GoldenRun) -> dict[str, str]:
    """A clean environment for one run: no thread settings or DEVICEBENCH_* of the caller leak in."""
    env = {key: os.environ[key] for key in KEEP_ENV if key in os.environ}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "PYTHONHASHSEED": "0",
            "DEVICEBENCH_FAKE_HOST": run.host,
            "DEVICEBENCH_FAKE_START": run.start,
            "DEVICEBENCH_HOST": run.name or run.host,
        }
    )
    env.update({f"DEVICEBENCH_FAKE_{key}": value for key, value in run.env.items()})
    return env


def make(run: GoldenRun) -> str:
    """Run the plugin for one golden run, move its folder into place, and say what it holds."""
    with tempfile.TemporaryDirectory(prefix="devicebench-golden-") as tmp:
        results = Path(tmp) / "results"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "bench",
            "-p",
            "tests.golden_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "--results-dir",
            str(results),
            "--profile",
            run.profile,
            "--backend",
            run.backend,
            *(["-k", run.select] if run.select else []),
            *run.options,
        ]
        proc = subprocess.run(command, cwd=REPO, env=run_env(run), capture_output=True, text=True, timeout=600)
        if proc.returncode not in run.exit_codes:
            raise SystemExit(
                f"{run.target}: pytest exited {proc.returncode}, expected {run.exit_codes}\n"
                f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
            )
        folder = (results / "latest").resolve()
        data = json.loads((folder / "benchmarks.json").read_text())
        state = data["devicebench"]["run"]["state"]
        if state != run.state:
            raise SystemExit(f"{run.target}: the run ended {state}, expected {run.state}")
        target = HERE / run.target
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(folder, target)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1024:.0f} KiB" for p in sorted(target.iterdir()))
    skipped = data["devicebench"]["skipped"]
    return f"{run.target}: {state}, {len(data['benchmarks'])} cases, {len(skipped)} without a number; {sizes}"


def bad_source() -> str:
    """The text of the smallest complete golden run cut to its first case: valid, written by results_format."""
    data = json.loads((BAD_SOURCE / results_format.RESULTS_FILE).read_text())
    data["benchmarks"] = data["benchmarks"][:1]
    data["devicebench"]["run"]["measured"] = 1
    return results_format.dumps(results_format.parse(json.dumps(data), BAD_SOURCE / results_format.RESULTS_FILE))


def make_bad() -> list[str]:
    """Files the results format must refuse, derived from a golden run; returns their names."""
    text = bad_source()
    made: dict[str, str] = {"truncated.json": text[: len(text) // 3]}

    def variant(name: str, change: Callable[[dict], object]) -> None:
        data = json.loads(text)
        change(data)
        made[name] = json.dumps(data, indent=1) + "\n"

    first = '"extra_info": {'
    deep = NESTING_DEPTH
    made["deep-nesting.json"] = text.replace(first, first + '"nested": ' + "[" * deep + "]" * deep + ", ", 1)
    rounds = '"rounds": '
    at = text.index(rounds) + len(rounds)
    made["huge-integer.json"] = text[:at] + "9" * 5000 + text[at:].lstrip("0123456789")
    variant("no-stats-data.json", lambda d: d["benchmarks"][0]["stats"].pop("data"))
    variant("extra-info-type.json", lambda d: d["benchmarks"][0].update(extra_info="matmul n128"))
    variant("commit-info-type.json", lambda d: d.update(commit_info=["0123456789abcdef"]))
    variant("list-params.json", lambda d: d["benchmarks"][0]["extra_info"]["params"].update(n=[128, 512]))
    variant("device-null.json", lambda d: d["benchmarks"][0]["extra_info"].update(device=None))
    variant("negative-round.json", lambda d: d["benchmarks"][0]["stats"]["data"].__setitem__(0, -0.00125))
    variant("zero-round.json", lambda d: d["benchmarks"][0]["stats"]["data"].__setitem__(0, 0.0))
    variant("schema-1.json", to_schema_1)
    variant("schema-99.json", lambda d: d["devicebench"].update(schema_version=99))
    for name, content in made.items():
        (BAD / name).write_text(content)
    return sorted(made)


def to_schema_1(data: dict) -> None:
    """The top-level devicebench block as devicebench 0.1 wrote it (no schema version, no run state)."""
    block = data["devicebench"]
    data["devicebench"] = {
        "version": block["suite_version"],
        "profile": block["profile"],
        "backends": block["backends"],
        "devices": block["devices"],
        "notes": block["notes"],
        "skipped": block["skipped"],
        "nvml": block["nvml"],
    }


def main() -> None:
    """Make every golden run, then the refused files."""
    for run in RUNS:
        print(make(run), flush=True)
    print(f"bad/: {', '.join(make_bad())} (derived from {BAD_SOURCE.relative_to(HERE)})")


if __name__ == "__main__":
    main()
