"""Regenerate the golden results files in tests/data (deterministic; run by hand, not by the tests).

    .venv/bin/python tests/data/make_golden.py

The files follow docs/results-format.md: pytest-benchmark's own JSON with devicebench's extra_info,
statistics computed by pytest-benchmark's Stats class from synthetic per-round times.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from pytest_benchmark.stats import Stats

from bench.nvml_summary import CSV_COLUMNS

HERE = Path(__file__).parent
RUNS = HERE / "runs"
BACKENDS = HERE / "backends"  # runs with both backends, apart from runs/ (which tests read as one set)
BAD = HERE / "bad"

CPU_FLAGS = ["avx", "avx2", "fma", "sse4_2"]
SYNC = {"tensorflow": "tf.test.experimental.sync_devices", "torch": "torch.cuda.synchronize"}


def machine_info(
    node: str, cpu_brand: str, cores: int, devices: list[dict], driver: str | None, cuda: str | None
) -> dict:
    """A pytest-benchmark machine_info with devicebench's additions."""
    return {
        "node": node,
        "processor": "x86_64",
        "machine": "x86_64",
        "python_compiler": "GCC 12.2.0",
        "python_implementation": "CPython",
        "python_implementation_version": "3.11.7",
        "python_version": "3.11.7",
        "python_build": ["main", "Jan  1 2026 00:00:00"],
        "release": "6.8.0-45-generic",
        "system": "Linux",
        "cpu": {
            "brand_raw": cpu_brand,
            "count": cores,
            "arch": "X86_64",
            "bits": 64,
            "flags": CPU_FLAGS,
            "hz_advertised_friendly": "2.4000 GHz",
        },
        "devicebench": {
            "backends": {
                "tensorflow": {
                    "available": True,
                    "version": "2.21.0",
                    "cuda": cuda,
                    "cudnn": "9.3" if cuda else None,
                    "built_with_cuda": cuda is not None,
                }
            },
            "devices": devices,
            "cpu_model": cpu_brand,
            "cpu_cores": cores,
            "nvidia_driver": driver,
            "container_image": "devicebench:gpu-0.1.0" if cuda else None,
            "nvml": {"enabled": driver is not None, "reason": "" if driver else "NVML library not found"},
        },
    }


def stats_for(median_s: float, rng: random.Random, rounds: int = 7) -> dict:
    """pytest-benchmark stats for synthetic rounds scattered about median_s."""
    stats = Stats()
    for _ in range(rounds):
        stats.update(median_s * rng.uniform(0.96, 1.06))
    out = stats.as_dict()
    out["data"] = list(stats.data)
    out["iterations"] = 1
    return out


class RunBuilder:
    """Collects benchmarks for one run and writes its folder."""

    def __init__(
        self, folder: str, node: str, info: dict, seed: int, profile: str = "smoke", root: Path = RUNS
    ) -> None:
        self.folder = root / folder
        self.info = info
        self.node = node
        self.rng = random.Random(seed)
        self.profile = profile
        self.benchmarks: list[dict] = []
        self.skipped: list[dict] = []
        self.notes: list[str] = []
        self.nvml_rows: list[list] = []
        self.backends = {"tensorflow": {"available": True, "version": "2.21.0", "reason": ""}}

    def add(
        self,
        workload: str,
        case_id: str,
        group: str,
        device: str,
        kind: str,
        device_name: str,
        params: dict,
        work: float,
        unit: str,
        throughput_unit: str,
        median_s: float,
        extra: dict | None = None,
        backend: str = "tensorflow",
    ) -> None:
        """Add one benchmark whose median time is median_s."""
        stats = stats_for(median_s, self.rng)
        scale = {"GFLOP/s": 1e9, "GB/s": 1e9}.get(throughput_unit, 1.0)
        info = {
            "workload": workload,
            "backend": backend,
            "backend_version": "2.21.0" if backend == "tensorflow" else "2.13.0",
            "device": device,
            "device_kind": kind,
            "device_name": device_name,
            "params": params,
            "work_per_call": work,
            "work_unit": unit,
            "throughput": round(work / stats["median"] / scale, 4),
            "throughput_unit": throughput_unit,
            "sync": SYNC[backend] if kind == "gpu" else "numpy()",
            "placement": f"/job:localhost/replica:0/task:0/device:{device}" if backend == "tensorflow" else device,
            "precision": {"dtype": params.get("dtype", "float32"), "tf32": False},
            "threads": {"intra_op": 0, "inter_op": 0, "cpu_count": self.info["devicebench"]["cpu_cores"]},
            "warmup": {"calls": 3, "first_call_s": round(median_s * 4 + 0.05, 6)},
            "one_time_cost_s": round(median_s * 3 + 0.05, 6),
            "profile": self.profile,
        }
        info.update(extra or {})
        name = f"test_{workload}[{case_id}]"
        self.benchmarks.append(
            {
                "group": group,
                "name": name,
                "fullname": f"bench/benchmarks/test_{workload}.py::{name}",
                "params": {"case": case_id},
                "param": case_id,
                "extra_info": info,
                "options": {
                    "disable_gc": False,
                    "timer": "perf_counter",
                    "min_rounds": 5,
                    "max_time": 1.0,
                    "min_time": 5e-06,
                    "precision": None,
                    "confidence": None,
                    "warmup": False,
                },
                "stats": stats,
            }
        )

    def skip(
        self,
        workload: str,
        case_id: str,
        device: str,
        kind: str,
        params: dict,
        reason: str,
        why: str,
        backend: str = "tensorflow",
    ) -> None:
        """Record a skipped case."""
        self.skipped.append(
            {
                "name": f"test_{workload}[{case_id}]",
                "workload": workload,
                "backend": backend,
                "device": device,
                "device_kind": kind,
                "params": params,
                "reason": reason,
                "kind": why,
            }
        )

    def write(self, stamp: str) -> None:
        """Write benchmarks.json (and nvml.csv when there are samples)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        gpu = any(d["kind"] == "gpu" for d in self.info["devicebench"]["devices"])
        data = {
            "machine_info": self.info,
            "commit_info": {
                "id": "0123456789abcdef0123456789abcdef01234567",
                "time": stamp,
                "author_time": stamp,
                "dirty": False,
                "project": "devicebench",
                "branch": "main",
            },
            "benchmarks": self.benchmarks,
            "datetime": stamp,
            "version": "5.3.1",
            "devicebench": {
                "version": "0.1.0",
                "profile": self.profile,
                "backends": self.backends,
                "devices": self.info["devicebench"]["devices"],
                "notes": self.notes,
                "skipped": self.skipped,
                "nvml": self.info["devicebench"]["nvml"]
                if gpu
                else {"enabled": False, "reason": "NVML library not found"},
            },
        }
        (self.folder / "benchmarks.json").write_text(json.dumps(data, indent=1) + "\n")
        if self.nvml_rows:
            with (self.folder / "nvml.csv").open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(CSV_COLUMNS)
                writer.writerows(self.nvml_rows)


CPU_MATMUL_PEAK = 1200.0  # GFLOP/s at large n, the gpubox CPU


def matmul_time(n: int, peak_gflops: float, overhead_s: float) -> float:
    """Seconds for an n x n matmul: launch overhead plus 2n^3 FLOP at a size-dependent efficiency."""
    efficiency = min(1.0, (n / 4096) ** 0.5)
    return overhead_s + 2 * n**3 / (peak_gflops * 1e9 * efficiency)


def add_matmul(
    run: RunBuilder,
    device: str,
    kind: str,
    dname: str,
    sizes: list[int],
    dtype: str,
    peak: float,
    overhead: float,
    nvml: bool = False,
) -> None:
    """Add matmul cases for one device and dtype."""
    for n in sizes:
        case = f"tensorflow-{device}-n{n}-{dtype}"
        extra = {}
        if kind == "gpu":
            tf_peak = 3 * n * n * (2 if dtype == "float16" else 4)
            extra["tf_memory"] = {"peak_bytes": tf_peak}
            if nvml:
                extra["nvml"] = {
                    "0": {
                        "name": dname,
                        "peak_mem_mib": round(520 + tf_peak / 2**20 * 1.1, 1),
                        "mean_util_gpu_pct": min(100, 20 + n // 100),
                        "mean_power_w": 120.0,
                        "energy_j": round(0.12 * n, 1),
                    }
                }
        run.add(
            "matmul",
            case,
            f"matmul n={n} {dtype} tensorflow",
            device,
            kind,
            dname,
            {"n": n, "dtype": dtype},
            2.0 * n**3,
            "FLOP",
            "GFLOP/s",
            matmul_time(n, peak, overhead),
            extra,
        )


def cpu_gpu_devices(cpu_name: str, gpu_name: str, gpu_memory: int) -> list[dict[str, object]]:
    """machine_info's device list for a TF host with CPU:0 and one GPU:0."""
    return [
        {"backend": "tensorflow", "name": "CPU:0", "kind": "cpu", "model": cpu_name, "memory_bytes": None},
        {"backend": "tensorflow", "name": "GPU:0", "kind": "gpu", "model": gpu_name, "memory_bytes": gpu_memory},
    ]


def build_gpubox() -> None:
    """A CPU+GPU run: matmul 100..10000 (float16 on the GPU), MNIST modes, tf.data, transfers, nvml.csv."""
    cpu_name, gpu_name = "Intel(R) Xeon(R) Platinum 8480+", "NVIDIA H100 80GB HBM3"
    devices = cpu_gpu_devices(cpu_name, gpu_name, 85520809984)
    run = RunBuilder(
        "20261121-120000-gpubox",
        "gpubox",
        machine_info("gpubox", cpu_name, 16, devices, "560.35.03", "12.5"),
        seed=2,
    )
    sizes = [100, 256, 512, 1024, 2048, 4096, 10000]
    add_matmul(run, "CPU:0", "cpu", cpu_name, sizes, "float32", CPU_MATMUL_PEAK, 4.0e-5)
    add_matmul(run, "GPU:0", "gpu", gpu_name, sizes, "float32", 49440.0, 6.0e-5, nvml=True)
    add_matmul(run, "GPU:0", "gpu", gpu_name, sizes, "float16", 250000.0, 6.0e-5, nvml=True)
    for device, kind, dname, speed in (("CPU:0", "cpu", cpu_name, 1.0), ("GPU:0", "gpu", gpu_name, 6.2)):
        for mode, factor in (("eager", 0.45), ("function", 1.0), ("xla", 1.2), ("keras-fit", 0.95)):
            steady = 60000 / (21000 * speed * factor)
            run.add(
                "mnist",
                f"tensorflow-{device}-{mode}-b64",
                f"mnist {mode} b64 tensorflow",
                device,
                kind,
                dname,
                {"mode": mode, "epochs": 2, "batch_size": 64},
                60000,
                "samples",
                "samples/s",
                steady,
                {
                    "first_epoch_s": round(steady * (1.3 if mode == "eager" else 2.8), 4),
                    "steady_epoch_s": round(steady, 4),
                    "final_loss": 0.31 + 0.01 * factor,
                    "final_accuracy": 0.899,
                    "data_source": "synthetic",
                },
            )
        for variant, rate in (
            ("from_tensor_slices", 2.1e6),
            ("map", 9.0e5),
            ("map_parallel", 1.6e6),
            ("cache", 3.0e6),
            ("prefetch", 2.4e6),
        ):
            run.add(
                "tfdata",
                f"tensorflow-{device}-{variant}",
                f"tfdata {variant} tensorflow",
                device,
                kind,
                dname,
                {"variant": variant},
                60000,
                "elements",
                "elements/s",
                60000 / rate,
            )
        pipeline, premade = (0.0042, 0.0040) if kind == "cpu" else (0.0031, 0.0009)
        run.add(
            "tfdata",
            f"tensorflow-{device}-train_step",
            "tfdata train_step tensorflow",
            device,
            kind,
            dname,
            {"variant": "train_step"},
            1000,
            "elements",
            "elements/s",
            pipeline,
            {"input_bound": pipeline > 1.5 * premade, "pipeline_step_s": pipeline, "premade_step_s": premade},
        )
    for direction, bw in (("h2d", 24.0), ("d2h", 20.0)):
        for size in (2**10, 2**16, 2**20, 2**24, 2**28):
            seconds = 1.2e-5 + size / (bw * 1e9)
            run.add(
                "transfer",
                f"tensorflow-GPU:0-{direction}-{size}b",
                f"transfer {direction} {size}b tensorflow",
                "GPU:0",
                "gpu",
                gpu_name,
                {"direction": direction, "bytes": size},
                size,
                "bytes",
                "GB/s",
                seconds,
            )
    run.skip(
        "mnist",
        "torch-GPU:0-compile-b64",
        "GPU:0",
        "gpu",
        {"mode": "compile", "batch_size": 64},
        "torch is not installed",
        "error",
    )
    run.skip(
        "matmul",
        "tensorflow-GPU:0-n32768-float32",
        "GPU:0",
        "gpu",
        {"n": 32768, "dtype": "float32"},
        "OOM when allocating tensor with shape[32768,32768]",
        "oom",
    )
    # an NVML timeline: idle, then matmul cases raising memory, then MNIST
    t = 0.0
    for bench in run.benchmarks:
        if bench["extra_info"]["device_kind"] != "gpu" or bench["extra_info"]["workload"] not in (
            "matmul",
            "mnist",
        ):
            continue
        peak = bench["extra_info"].get("nvml", {}).get("0", {}).get("peak_mem_mib", 900.0)
        for k in range(4):
            mem = round(500 + (peak - 500) * (k + 1) / 4, 1)
            run.nvml_rows.append(
                [
                    round(t, 2),
                    bench["name"],
                    0,
                    "GPU-7e1c0f5a-aaaa-bbbb-cccc-000000000000",
                    mem,
                    round(mem - 480, 1),
                    35 + 10 * k,
                    10 + 5 * k,
                    95.0 + 30 * k,
                    123456 + int(t * 1000),
                    1980,
                    41 + k,
                    "",
                ]
            )
            t += 0.1
    run.write("2026-11-21T12:00:00.000000+00:00")


def build_laptop() -> None:
    """A CPU-only smoke run with skipped cases (profile limits; no GPU)."""
    cpu_name = "AMD Ryzen 7 5800U"
    devices = [{"backend": "tensorflow", "name": "CPU:0", "kind": "cpu", "model": cpu_name, "memory_bytes": None}]
    run = RunBuilder(
        "20261120-090000-laptop", "laptop", machine_info("laptop", cpu_name, 8, devices, None, None), seed=1
    )
    add_matmul(run, "CPU:0", "cpu", cpu_name, [100, 256, 512, 1024], "float32", 300.0, 3.0e-5)
    for mode, factor in (("eager", 0.5), ("function", 1.0)):
        steady = 60000 / (9000 * factor)
        run.add(
            "mnist",
            f"tensorflow-CPU:0-{mode}-b64",
            f"mnist {mode} b64 tensorflow",
            "CPU:0",
            "cpu",
            cpu_name,
            {"mode": mode, "epochs": 1, "batch_size": 64},
            60000,
            "samples",
            "samples/s",
            steady,
            {
                "first_epoch_s": round(steady * 2, 3),
                "steady_epoch_s": round(steady, 3),
                "final_loss": 0.4,
                "final_accuracy": 0.88,
                "data_source": "synthetic",
            },
        )
    for variant, rate in (("from_tensor_slices", 1.0e6), ("map", 4.0e5)):
        run.add(
            "tfdata",
            f"tensorflow-CPU:0-{variant}",
            f"tfdata {variant} tensorflow",
            "CPU:0",
            "cpu",
            cpu_name,
            {"variant": variant},
            60000,
            "elements",
            "elements/s",
            60000 / rate,
        )
    run.add(
        "tfdata",
        "tensorflow-CPU:0-train_step",
        "tfdata train_step tensorflow",
        "CPU:0",
        "cpu",
        cpu_name,
        {"variant": "train_step"},
        1000,
        "elements",
        "elements/s",
        0.009,
        {"input_bound": True, "pipeline_step_s": 0.009, "premade_step_s": 0.004},
    )
    run.notes.append("no GPU visible to TensorFlow: GPU cases not generated")
    for n in (2048, 4096, 10000):
        run.skip(
            "matmul",
            f"tensorflow-CPU:0-n{n}-float32",
            "CPU:0",
            "cpu",
            {"n": n, "dtype": "float32"},
            f"profile smoke: n={n} is above the CPU limit 1024",
            "profile",
        )
    run.write("2026-11-20T09:00:00.000000+00:00")


def build_workstation() -> None:
    """A second GPU host: matmul CPU vs an RTX 4090, and transfers."""
    cpu_name, gpu_name = "AMD Ryzen 9 7950X", "NVIDIA GeForce RTX 4090"
    devices = cpu_gpu_devices(cpu_name, gpu_name, 25757220864)
    run = RunBuilder(
        "20261122-080000-workstation",
        "workstation",
        machine_info("workstation", cpu_name, 16, devices, "555.42.06", "12.5"),
        seed=3,
    )
    sizes = [100, 512, 1024, 4096, 10000]
    add_matmul(run, "CPU:0", "cpu", cpu_name, sizes, "float32", 900.0, 3.5e-5)
    add_matmul(run, "GPU:0", "gpu", gpu_name, sizes, "float32", 70000.0, 4.5e-5)
    for direction, bw in (("h2d", 22.0), ("d2h", 19.0)):
        for size in (2**10, 2**20, 2**28):
            run.add(
                "transfer",
                f"tensorflow-GPU:0-{direction}-{size}b",
                f"transfer {direction} {size}b tensorflow",
                "GPU:0",
                "gpu",
                gpu_name,
                {"direction": direction, "bytes": size},
                size,
                "bytes",
                "GB/s",
                1.0e-5 + size / (bw * 1e9),
            )
    run.write("2026-11-22T08:00:00.000000+00:00")


def build_mixed() -> None:
    """One GPU host running both backends: matmul, MNIST (shared and backend-only modes), copies."""
    cpu_name, gpu_name = "AMD EPYC 9454", "NVIDIA H100 80GB HBM3"
    devices = [
        {"backend": backend, "name": name, "kind": kind, "model": model, "memory_bytes": memory}
        for backend in ("tensorflow", "torch")
        for name, kind, model, memory in (("CPU:0", "cpu", cpu_name, None), ("GPU:0", "gpu", gpu_name, 85520809984))
    ]
    info = machine_info("mixedbox", cpu_name, 32, devices, "560.35.03", "12.5")
    info["devicebench"]["backends"]["torch"] = {"available": True, "version": "2.13.0", "cuda_version": "12.8"}
    run = RunBuilder("20261123-100000-mixedbox", "mixedbox", info, seed=4, root=BACKENDS)
    run.backends["torch"] = {"available": True, "version": "2.13.0", "reason": ""}
    sizes = [256, 1024, 4096]
    # (backend, CPU peak, GPU peak, per-call overhead): torch's dispatch is cheaper, TF's GPU kernels a bit faster
    for backend, cpu_peak, gpu_peak, overhead in (
        ("tensorflow", 1500.0, 52000.0, 6.0e-5),
        ("torch", 1400.0, 48000.0, 2.0e-5),
    ):
        for device, kind, dname, peak in (("CPU:0", "cpu", cpu_name, cpu_peak), ("GPU:0", "gpu", gpu_name, gpu_peak)):
            for n in sizes:
                run.add(
                    "matmul",
                    f"{backend}-{device}-n{n}-float32",
                    f"matmul n={n} float32 {backend}",
                    device,
                    kind,
                    dname,
                    {"n": n, "dtype": "float32"},
                    2.0 * n**3,
                    "FLOP",
                    "GFLOP/s",
                    matmul_time(n, peak, overhead),
                    backend=backend,
                )
    modes = {"tensorflow": (("eager", 0.45), ("function", 1.0)), "torch": (("eager", 0.7), ("compile", 1.1))}
    for backend, backend_modes in modes.items():
        for device, kind, dname, speed in (("CPU:0", "cpu", cpu_name, 1.0), ("GPU:0", "gpu", gpu_name, 6.0)):
            for mode, factor in backend_modes:
                steady = 60000 / (20000 * speed * factor)
                run.add(
                    "mnist",
                    f"{backend}-{device}-{mode}-b64",
                    f"mnist {mode} b64 {backend}",
                    device,
                    kind,
                    dname,
                    {"mode": mode, "batch_size": 64},
                    60000,
                    "samples",
                    "samples/s",
                    steady,
                    {"final_loss": 0.32, "final_accuracy": 0.9, "data_source": "synthetic"},
                    backend=backend,
                )
    # copies: on the GPU both backends copy; on the CPU torch shares the numpy buffer (no copy)
    copies = {
        ("tensorflow", "gpu"): {"zero_copy": False},
        ("torch", "gpu"): {"pinned": True, "zero_copy": False, "copy": "pinned host tensor .to('cuda:0')"},
        ("tensorflow", "cpu"): {"zero_copy": False},
        ("torch", "cpu"): {
            "pinned": False,
            "zero_copy": True,
            "copy": "torch.from_numpy(array).to('cpu'): shares the numpy buffer, no copy",
        },
    }
    for backend, gpu_bw, cpu_bw in (("tensorflow", 12.0, 8.0), ("torch", 24.0, 4000.0)):
        for device, kind, dname, bw in (("GPU:0", "gpu", gpu_name, gpu_bw), ("CPU:0", "cpu", cpu_name, cpu_bw)):
            for size in (2**20, 2**26):
                run.add(
                    "transfer",
                    f"{backend}-{device}-h2d-{size}b",
                    f"transfer h2d {size}b {backend}",
                    device,
                    kind,
                    dname,
                    {"direction": "h2d", "bytes": size},
                    size,
                    "bytes",
                    "GB/s",
                    1.0e-5 + size / (bw * 1e9),
                    dict(copies[(backend, kind)]),
                    backend=backend,
                )
    for backend in ("tensorflow", "torch"):
        run.skip(
            "matmul",
            f"{backend}-CPU:0-n10000-float32",
            "CPU:0",
            "cpu",
            {"n": 10000, "dtype": "float32"},
            "profile smoke: n=10000 is above the CPU limit 4096",
            "profile",
            backend=backend,
        )
    run.write("2026-11-23T10:00:00.000000+00:00")


def build_bad() -> None:
    """Broken inputs: truncated, corrupt, foreign, and a benchmark without stats.data."""
    BAD.mkdir(parents=True, exist_ok=True)
    good = (RUNS / "20261120-090000-laptop" / "benchmarks.json").read_text()
    (BAD / "truncated.json").write_text(good[: len(good) // 3])
    (BAD / "corrupt.json").write_text('{"machine_info": {}, "benchmarks": [ nonsense ]}\n')
    (BAD / "foreign.json").write_text(
        json.dumps({"name": "left-pad", "version": "1.3.0", "dependencies": {}}, indent=1) + "\n"
    )
    data = json.loads(good)
    del data["benchmarks"][0]["stats"]["data"]
    (BAD / "no-stats-data.json").write_text(json.dumps(data, indent=1) + "\n")
    (BAD / "empty-folder").mkdir(exist_ok=True)
    (BAD / "empty-folder" / ".keep").write_text("")


if __name__ == "__main__":
    build_gpubox()
    build_laptop()
    build_workstation()
    build_mixed()
    build_bad()
