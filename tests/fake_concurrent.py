"""The scripted stand-in of bench.concurrent_worker: one GPU's figure from the scripted host, as one JSON line.

    python -m tests.fake_concurrent --backend torch --workload matmul --gpu 5 --seconds 5 --start-at 0

Run by tests.golden_plugin in place of the real worker (same arguments, same output): the GPU's model's bfloat16
matmul peak (TFLOP/s) or triad bandwidth (GB/s), divided by the script's time factor for the case id
`concurrent-<workload>-GPU:<i>` (DEVICEBENCH_FAKE_SLOW='concurrent-*-GPU:5=1.136': GPU 5 12 % slow), with 0.5 %
seeded noise per GPU.
"""

from __future__ import annotations

import argparse
import json
import random

from tests.fake_hosts import Script, ScriptError


def main(argv: list[str] | None = None) -> int:
    """Print the scripted figure of one GPU (or an error line, as the real worker does)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_concurrent")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--workload", choices=("matmul", "membw"), required=True)
    parser.add_argument("--gpu", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        script = Script.from_env()
    except ScriptError as err:
        print(json.dumps({"error": str(err)}))
        return 1
    if not 0 <= args.gpu < len(script.host.gpus):
        print(json.dumps({"error": f"RuntimeError: no GPU {args.gpu}"}))
        return 1
    model = script.host.gpus[args.gpu].model
    case = f"concurrent-{args.workload}-GPU:{args.gpu}"
    peak = model.gflops["bfloat16"] / 1000 if args.workload == "matmul" else model.membw_gbs[1]
    noise = random.Random(script.seed_for(script.host.name, case)).lognormvariate(0.0, 0.005)
    figure = peak * noise / script.time_factor(case)
    print(json.dumps({"figure": round(figure, 3), "calls": 100, "late_s": 0.0}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
