"""Regenerate the compare golden runs (deterministic; run by hand, not by the tests).

    .venv/bin/python tests/data/compare/make_compare_data.py

baseline/          six cases on one GPU box, 12 rounds each (tfdata: 3 rounds)
regressed/         same machine: matmul n256 2x slower, n1024 2x faster, mnist very noisy,
                   transfer h2d gone (recorded as skipped: oom), transfer d2h new
same/              same machine, same distributions (fresh noise): an A/A pair with baseline
other-driver/      like same/, but another NVIDIA driver and TF version
"""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

HERE = Path(__file__).parent


def machine_info(driver: str = "555.42.06", tf: str = "2.21.0") -> dict:
    """machine_info of the test GPU box."""
    return {
        "node": "gpubox",
        "machine": "x86_64",
        "python_version": "3.11.7",
        # hz_actual moves between identical runs: the comparison must ignore it.
        "cpu": {
            "brand_raw": "AMD EPYC 7763",
            "count": 16,
            "hz_actual_friendly": f"{random.uniform(2, 3):.4f} GHz",
        },
        "devicebench": {
            "backends": {
                "tensorflow": {
                    "available": True,
                    "version": tf,
                    "built_with_cuda": True,
                    "cuda_version": "12.5",
                    "cudnn_version": "9",
                    "tf32_enabled": True,
                }
            },
            "devices": [
                {"backend": "tensorflow", "device": "CPU:0", "kind": "cpu", "name": "AMD EPYC 7763"},
                {"backend": "tensorflow", "device": "GPU:0", "kind": "gpu", "name": "NVIDIA H100 80GB HBM3"},
            ],
            "cpu_model": "AMD EPYC 7763",
            "cpu_cores": 16,
            "cpu_usable_cores": 16,
            "nvidia_driver": driver,
            "container_image": "devicebench:gpu-0.1.0",
        },
    }


def bench(workload: str, case: str, device: str, params: dict, rounds: list[float], unit: str) -> dict:
    """One pytest-benchmark entry with devicebench extra_info."""
    data = sorted(rounds)
    q = statistics.quantiles(data, n=4) if len(data) > 1 else [data[0]] * 3
    median = statistics.median(data)
    return {
        "group": f"{workload} {case}",
        "name": f"test_{workload}[tensorflow-{device}-{case}]",
        "params": {"case": f"tensorflow-{device}-{case}"},
        "extra_info": {
            "workload": workload,
            "backend": "tensorflow",
            "device": device,
            "device_kind": device.split(":")[0].lower(),
            "params": params,
            "throughput": round(1.0 / median, 3),
            "throughput_unit": unit,
        },
        "stats": {
            "min": data[0],
            "max": data[-1],
            "mean": statistics.fmean(data),
            "median": median,
            "q1": q[0],
            "q3": q[2],
            "iqr": q[2] - q[0],
            "rounds": len(data),
            "iterations": 1,
            "data": rounds,
        },
    }


def rounds(rng: random.Random, median: float, n: int = 12, spread: float = 0.02) -> list[float]:
    """n round times scattered +-spread around median."""
    return [round(median * rng.uniform(1 - spread, 1 + spread), 9) for _ in range(n)]


def write(name: str, benchmarks: list[dict], info: dict, skipped: list | None = None) -> None:
    """Write <name>/benchmarks.json."""
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    data = {
        "machine_info": info,
        "commit_info": {"id": f"{name}-commit", "branch": "main", "dirty": False},
        "benchmarks": benchmarks,
        "datetime": "2026-11-20T09:00:00+00:00",
        "version": "5.1.0",
        "devicebench": {"version": "0.1.0", "profile": "smoke", "skipped": skipped or [], "notes": []},
    }
    (folder / "benchmarks.json").write_text(json.dumps(data, indent=1) + "\n")


def cases(rng: random.Random, *, slow256: float = 1.0, fast1024: float = 1.0, mnist_spread: float = 0.02) -> list:
    """The six-case set; factors scale the matmul medians, mnist_spread its noise."""
    return [
        bench("matmul", "n256-float32", "CPU:0", {"n": 256, "dtype": "float32"},
              rounds(rng, 1e-3 * slow256), "GFLOP/s"),
        bench("matmul", "n512-float32", "CPU:0", {"n": 512, "dtype": "float32"},
              rounds(rng, 4e-3), "GFLOP/s"),
        bench("matmul", "n1024-float32", "GPU:0", {"n": 1024, "dtype": "float32"},
              rounds(rng, 2e-3 * fast1024), "GFLOP/s"),
        bench("mnist", "eager-b64", "GPU:0", {"mode": "eager", "batch": 64},
              rounds(rng, 0.5, spread=mnist_spread), "samples/s"),
        bench("tfdata", "map", "CPU:0", {"pipeline": "map"}, rounds(rng, 0.1, n=3), "elements/s"),
    ]  # fmt: skip


def h2d(rng: random.Random) -> dict:
    """The transfer case only the baseline has."""
    return bench("transfer", "h2d-1048576b", "GPU:0", {"direction": "h2d", "bytes": 1048576},
                 rounds(rng, 1e-4), "GB/s")  # fmt: skip


def d2h(rng: random.Random) -> dict:
    """The transfer case only the regressed run has."""
    return bench("transfer", "d2h-1048576b", "GPU:0", {"direction": "d2h", "bytes": 1048576},
                 rounds(rng, 1e-4), "GB/s")  # fmt: skip


def main() -> None:
    """Write all golden runs."""
    random.seed(0)
    write("baseline", [*cases(random.Random(1)), h2d(random.Random(2))], machine_info())
    skipped = [{"name": "test_transfer[tensorflow-GPU:0-h2d-1048576b]", "kind": "oom",
                "reason": "GPU:0 ran out of memory"}]  # fmt: skip
    write("regressed", [*cases(random.Random(3), slow256=2.0, fast1024=0.5, mnist_spread=0.6),
                        d2h(random.Random(4))], machine_info(), skipped)  # fmt: skip
    write("same", [*cases(random.Random(5)), h2d(random.Random(6))], machine_info())
    write("other-driver", [*cases(random.Random(7)), h2d(random.Random(8))],
          machine_info(driver="560.35.03", tf="2.20.0"))  # fmt: skip


if __name__ == "__main__":
    main()
