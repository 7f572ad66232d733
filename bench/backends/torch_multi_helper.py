"""A helper process of the torch multi-device workloads: one rank of the benchmark process's HelperPool.

Started by bench.backends.torch_multi (never by hand): it joins rank 0's TCPStore and process group, then runs
each posted Job's part (the same calls as rank 0, then the final checks) and reports it done, until it is told
to exit. A watchdog thread ends it within WATCH_S when its parent (rank 0) is gone, however that ended.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import timedelta

WATCH_S = 0.5
POLL = timedelta(seconds=1)


def exit_with_parent(parent: int, interval: float = WATCH_S) -> threading.Thread:
    """Start a daemon thread that ends this process as soon as `parent` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(3)

    thread = threading.Thread(target=watch, name="devicebench-parent-watchdog", daemon=True)
    thread.start()
    return thread


def parse(argv: list[str]) -> argparse.Namespace:
    """The helper's arguments (set by HelperPool)."""
    parser = argparse.ArgumentParser(prog="torch_multi_helper", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--world", type=int, required=True)
    parser.add_argument("--backend", choices=("gloo", "nccl"), required=True)
    parser.add_argument("--device", required=True, help="this rank's torch device: cpu, cuda:1, ...")
    parser.add_argument("--parent", type=int, required=True, help="rank 0's process id")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve jobs until told to exit; 0 then, 1 after a failed job (rank 0 learns why from the store)."""
    args = parse(sys.argv[1:] if argv is None else argv)
    exit_with_parent(args.parent)
    import torch
    import torch.distributed as dist

    from bench.backends.base import one_line
    from bench.backends.torch_multi import COLLECTIVE_TIMEOUT, HOST, Groups, Job, run_job

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    store = dist.TCPStore(HOST, args.port, args.world, is_master=False, timeout=COLLECTIVE_TIMEOUT)
    jobs = dist.PrefixStore("devicebench/", store)
    jobs.set(f"ready/{args.rank}", "1")
    dist.init_process_group(args.backend, store=store, rank=args.rank, world_size=args.world,
                            timeout=COLLECTIVE_TIMEOUT)  # fmt: skip
    groups = Groups(args.world)
    seq = 0
    while True:
        key = f"job/{seq}"
        while True:  # blocks in the store (no polling: an idle helper takes no CPU from other cases)
            try:
                jobs.wait([key], POLL)
                break
            except dist.DistStoreError:  # timed out: wait again (the watchdog ends us if rank 0 is gone)
                continue
        posted = json.loads(jobs.get(key))
        if posted.get("exit"):
            break
        job = Job(**posted)
        try:
            run_job(job, args.rank, groups, device)
        except Exception as exc:
            jobs.set(f"done/{seq}/{args.rank}", f"error: {one_line(exc)}")
            return 1
        jobs.set(f"done/{seq}/{args.rank}", "ok")
        seq += 1
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
