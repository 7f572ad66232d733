"""The multi-device workloads in torch: the benchmark process is rank 0, helper processes are the other ranks.

torch.distributed runs one process per replica. The benchmark process is rank 0 and keeps the timing: the
runner times its calls as any other case's. The other ranks are helper processes
(bench.backends.torch_multi_helper) that it starts once per device set and keeps while multi-device cases
follow one another (any other torch case ends them first, see TorchBackend.build): a `HelperPool`.
For each case rank 0 posts a `Job` (the workload's parameters and how many calls it will make) to the pool's
TCPStore; every member builds the same work and runs exactly `calls` calls (the workloads fix their schedule for
this), then the final checks. Nothing signals a call inside the timed region: the collectives keep the
processes in step, as in nccl-tests.

Process groups: gloo on the CPU (CPU_REPLICAS processes sharing its cores), NCCL on GPUs (rank r on the r-th
GPU of the case's device set). A case of `replicas` ranks uses the group of ranks 0 .. replicas-1; the
others sit out that job.

Helpers never outlive the run: they exit when told to (at interpreter exit, through atexit: the plugin turns
SIGTERM into KeyboardInterrupt, so this covers Ctrl-C, `timeout` and `docker stop`), are killed when a case
breaks the pool's lock-step, and leave on their own within a second when rank 0 is gone (SIGKILL, a crash),
through a watchdog thread in each helper.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.torch_common import torch_device
from bench.backends.torch_mnist import KERAS_ADAM_EPSILON, evaluate
from bench.backends.torch_models import ModelUnavailable, book_model, resnet50
from bench.cases import Case
from bench.workloads.allreduce import (
    bandwidth_facts,
    check_facts,
    compare,
    elements,
    expected_sum,
    replica_values,
)
from bench.workloads.mnist import LEARNING_RATE
from bench.workloads.mnist_data import load_mnist
from bench.workloads.multidevice import CPU_REPLICAS, DeviceSet, device_set
from bench.workloads.scaling import RESNET_CLASSES, SEED, global_batch_order, replica_slice, samples_needed

HELPER_MODULE = "bench.backends.torch_multi_helper"
HOST = "127.0.0.1"
COLLECTIVE_TIMEOUT = timedelta(seconds=300)  # a collective that waits this long fails (a hung peer)
START_TIMEOUT_S = 180.0  # helpers importing torch (and CUDA) on a busy machine
DONE_TIMEOUT_S = 120.0  # helpers reporting a finished job after rank 0's last collective
EXIT_WAIT_S = 5.0  # helpers leaving after being told to, before they are killed
EXIT_SEEN_S = 2.0  # a helper that broke a collective by dying: how long its exit may take to show


class HelperError(RuntimeError):
    """A helper process failed or went away; the message says which and why."""


@dataclass(frozen=True)
class Job:
    """One case as every member runs it: the workload, its parameters, the replicas and the calls to make."""

    seq: int
    workload: str  # "allreduce" or "scaling"
    params: dict[str, Any]
    calls: int  # calls every member makes (the workload's fixed warm-up + rounds)
    mnist: str | None
    threads: int

    @property
    def replicas(self) -> int:
        """Ranks 0 .. replicas-1 take part."""
        return int(self.params["replicas"])

    def to_json(self) -> str:
        """The job as posted to the store."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        """A job as read from the store."""
        return cls(**json.loads(text))


class Groups:
    """Process groups by replica count, made on first use; every rank makes them in the same (job) order."""

    def __init__(self, world: int) -> None:
        self.world = world
        self._groups: dict[int, Any] = {}

    def get(self, replicas: int) -> Any:
        """The group of ranks 0 .. replicas-1 (a collective call: every rank must ask, member or not)."""
        if replicas == self.world:
            return dist.group.WORLD
        if replicas not in self._groups:
            self._groups[replicas] = dist.new_group(ranks=list(range(replicas)))
        return self._groups[replicas]


def _gather_check(group: Any, device: torch.device, mismatches: int, error: float) -> tuple[int, float]:
    """Every member's (mismatched elements, largest error) combined: the sum and the largest, on every member."""
    count = torch.tensor([float(mismatches)], dtype=torch.float64, device=device)
    worst = torch.tensor([error], dtype=torch.float64, device=device)
    dist.all_reduce(count, op=dist.ReduceOp.SUM, group=group)
    dist.all_reduce(worst, op=dist.ReduceOp.MAX, group=group)
    return int(count.item()), float(worst.item())


class AllreduceWork:
    """k in-place sum all-reduces of one float32 buffer per call, checked in place before and after the calls."""

    def __init__(self, job: Job, rank: int, group: Any, device: torch.device) -> None:
        self.job, self.rank, self.group, self.device = job, rank, group, device
        self.count = elements(job.params)
        self.k = int(job.params["collectives_per_call"])
        self.buffer = torch.zeros(self.count, dtype=torch.float32, device=device)
        self.checks = [self.check()]

    def check(self) -> tuple[int, float]:
        """Fill the buffer with this rank's pattern, all-reduce it in place, compare, and zero it again."""
        self.buffer.copy_(torch.from_numpy(replica_values(self.count, self.rank)))
        dist.all_reduce(self.buffer, group=self.group)
        found = compare(self.buffer.cpu().numpy(), expected_sum(self.count, self.job.replicas))
        # Timed calls sum zeros: repeated in-place sums of the pattern would grow without bound (the values do
        # not change the work).
        self.buffer.zero_()
        return found

    def call(self) -> torch.Tensor:
        """k all-reduces of the buffer, in place."""
        for _ in range(self.k):
            dist.all_reduce(self.buffer, group=self.group)
        return self.buffer

    def finish(self) -> dict[str, Any]:
        """The check after the calls, combined over every member."""
        self.checks.append(self.check())
        mismatches = sum(m for m, _ in self.checks)
        error = max(e for _, e in self.checks)
        mismatches, error = _gather_check(self.group, self.device, mismatches, error)
        checked = "every rank's buffer, elementwise, all-reduced in place before and after the timed calls"
        return {**check_facts(mismatches, error, checked), "in_place": True}


class ScalingWork:
    """DistributedDataParallel training: each rank trains on its share of every global batch."""

    def __init__(self, job: Job, rank: int, group: Any, device: torch.device) -> None:
        params = job.params
        self.job, self.rank, self.group, self.device = job, rank, group, device
        self.steps, self.per = int(params["steps_per_call"]), int(params["per_replica_batch"])
        self.model_name = str(params["model"])
        if self.model_name == "mnist":
            model: nn.Module = book_model(device)
        elif self.model_name == "resnet50":
            model = resnet50(device, RESNET_CLASSES)
        else:
            raise ValueError(f"unknown scaling model {self.model_name!r}; models: mnist, resnet50")
        self.model = model
        ids = [device.index] if device.type == "cuda" else None
        self.ddp = nn.parallel.DistributedDataParallel(model, device_ids=ids, process_group=group)
        self.optimizer = torch.optim.Adam(self.ddp.parameters(), lr=LEARNING_RATE, eps=KERAS_ADAM_EPSILON)
        self.loss_of = nn.CrossEntropyLoss()
        self.facts: dict[str, Any] = {}
        self.losses: list[float] = []
        self.step = 0
        if self.model_name == "mnist":
            data = load_mnist(job.mnist, samples_needed(params))
            order = global_batch_order(len(data.x), self.steps * job.calls, int(params["global_batch"]))
            self.x = torch.from_numpy(data.x).to(device)
            self.y = torch.from_numpy(data.y).to(device)
            self.order = torch.from_numpy(replica_slice(order, rank, self.per).copy()).to(device)
            if rank == 0:
                initial, _ = evaluate(model, self.x, self.y)
                self.facts.update({"initial_loss": initial, "data_source": data.source, "data_path": data.path})
                self.facts["samples"] = len(data.x)
        else:
            size = int(params["image_size"])
            generator = torch.Generator(device=device).manual_seed(SEED * 1000 + rank)
            self.images = torch.rand((self.per, 3, size, size), generator=generator, device=device)
            self.labels = torch.randint(0, RESNET_CLASSES, (self.per,), generator=generator, device=device)
            self.facts.update({"data_source": "synthetic", "loss_measured": "the training step's loss on its batch"})

    def call(self) -> torch.Tensor:
        """steps_per_call training steps of DDP on this rank's shares."""
        loss: torch.Tensor | None = None
        for _ in range(self.steps):
            if self.model_name == "mnist":
                idx = self.order[self.step % len(self.order)]
                x, y = self.x[idx], self.y[idx]
            else:
                x, y = self.images, self.labels
            self.step += 1
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_of(self.ddp(x), y)
            loss.backward()  # DDP all-reduces (averages) the gradients across the ranks here
            self.optimizer.step()
        assert loss is not None
        if self.model_name != "mnist" and self.rank == 0:
            self.losses.append(float(loss.item()))
        return loss.detach()

    def finish(self) -> dict[str, Any]:
        """Whether the replicas' weights agree (elementwise max - min over the ranks), and rank 0's losses."""
        flat = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])
        high, low = flat.clone(), flat.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX, group=self.group)
        dist.all_reduce(low, op=dist.ReduceOp.MIN, group=self.group)
        spread = float((high - low).max().item())
        out = {**self.facts, "replicas_in_sync": spread == 0.0, "replica_weight_spread": spread}
        if self.rank == 0:
            if self.model_name == "mnist":
                final, accuracy = evaluate(self.model, self.x, self.y)
                out.update({"final_loss": final, "final_accuracy": accuracy})
            else:
                out.update({"initial_loss": self.losses[0], "final_loss": self.losses[-1]})
            out["gradient_bytes"] = int(sum(p.numel() for p in self.model.parameters())) * 4
        return out


WORKS = {"allreduce": AllreduceWork, "scaling": ScalingWork}


def make_work(job: Job, rank: int, groups: Groups, device: torch.device) -> AllreduceWork | ScalingWork | None:
    """This rank's part of a job (None when it sits the job out); every rank calls it for every job."""
    group = groups.get(job.replicas)
    if rank >= job.replicas:
        return None
    torch.set_num_threads(max(1, job.threads))
    return WORKS[job.workload](job, rank, group, device)


def run_job(job: Job, rank: int, groups: Groups, device: torch.device) -> None:
    """A helper's whole job: its part's calls, then the final checks."""
    work = make_work(job, rank, groups, device)
    if work is None:
        return
    for _ in range(job.calls):
        work.call()
    work.finish()
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class HelperPool:
    """Rank 0 (this process) and its helper processes for one device set, joined in one process group."""

    def __init__(self, backend: str, devices: tuple[str, ...]) -> None:
        self.backend, self.devices, self.world = backend, devices, len(devices)
        self.seq = 0
        self.in_flight: Job | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.store = dist.TCPStore(HOST, 0, self.world, is_master=True, timeout=COLLECTIVE_TIMEOUT,
                                   wait_for_workers=False)  # fmt: skip
        self.jobs = dist.PrefixStore("devicebench/", self.store)
        try:
            for rank in range(1, self.world):
                self._spawn(rank)
            self._wait_ready()
            dist.init_process_group(backend, store=self.store, rank=0, world_size=self.world,
                                    timeout=COLLECTIVE_TIMEOUT)  # fmt: skip
        except BaseException:
            self.terminate()
            raise
        self.groups = Groups(self.world)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """What the pool serves: its process-group backend and the device of each rank."""
        return self.backend, self.devices

    def _spawn(self, rank: int) -> None:
        log = Path(tempfile.mkstemp(prefix=f"devicebench-rank{rank}-", suffix=".log")[1])
        self.logs.append(log)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the checkout or site-packages holding `bench`
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", HELPER_MODULE, "--port", str(self.store.port), "--rank", str(rank),
                   "--world", str(self.world), "--backend", self.backend, "--device", self.devices[rank],
                   "--parent", str(os.getpid())]  # fmt: skip
        with log.open("wb") as out:
            self.procs.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = set(range(1, self.world))
        while waiting:
            self._check_alive()
            waiting = {r for r in waiting if not self.jobs.check([f"ready/{r}"])}
            if waiting and time.monotonic() > deadline:
                raise HelperError(f"helper rank(s) {sorted(waiting)} did not start in {START_TIMEOUT_S:.0f} s")
            if waiting:
                time.sleep(0.05)

    def _check_alive(self) -> None:
        for rank, proc in enumerate(self.procs, start=1):
            if proc.poll() is not None:
                raise HelperError(f"helper rank {rank} exited with {proc.returncode}: {self._log_tail(rank)}")

    def _log_tail(self, rank: int) -> str:
        try:
            lines = self.logs[rank - 1].read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(no output)"

    def post(self, workload: str, params: dict[str, Any], mnist: str | None) -> Job:
        """Hand the helpers the next job; rank 0 then builds its own part (see make_work)."""
        job = Job(self.seq, workload, params, int(params["calls"]), mnist, torch.get_num_threads())
        self.seq += 1
        self.in_flight = job
        self.jobs.set(f"job/{job.seq}", job.to_json())
        return job

    def finish(self, job: Job) -> None:
        """Wait for every helper to report the job done; a HelperError with its reason otherwise."""
        deadline = time.monotonic() + DONE_TIMEOUT_S
        for rank in range(1, self.world):
            key = f"done/{job.seq}/{rank}"
            while True:
                try:
                    self.jobs.wait([key], timedelta(seconds=0.5))
                    break
                except dist.DistStoreError:
                    self._check_alive()
                    if time.monotonic() > deadline:
                        raise HelperError(
                            f"helper rank {rank} did not finish job {job.seq} in {DONE_TIMEOUT_S:.0f} s"
                        ) from None
            status = self.jobs.get(key).decode()
            if status != "ok":
                raise HelperError(f"helper rank {rank}: {status}")
        self.in_flight = None

    @contextmanager
    def explained(self) -> Iterator[None]:
        """Re-raise a failed collective as the helper's HelperError where a helper failed or went away."""
        try:
            yield
        except HelperError:
            raise
        except Exception as exc:
            better = self.explain(exc)
            if better is None:
                raise
            raise better from exc

    def explain(self, error: BaseException) -> HelperError | None:
        """A helper's own account of a failed collective, where one has reported or exited.

        A helper that dies breaks rank 0's collective before its exit shows (the kernel closes its sockets first),
        so this looks again for up to EXIT_SEEN_S before saying no helper is to blame.
        """
        deadline = time.monotonic() + EXIT_SEEN_S
        while True:
            account = self._account(error)
            if account is not None or time.monotonic() >= deadline:
                return account
            time.sleep(0.02)

    def _account(self, error: BaseException) -> HelperError | None:
        """A helper's report of a failed job, or its exit, as a HelperError (None when neither shows yet)."""
        job = self.in_flight
        for rank in range(1, self.world):
            key = f"done/{job.seq}/{rank}" if job is not None else None
            if key and self.jobs.check([key]) and (status := self.jobs.get(key).decode()) != "ok":
                return HelperError(f"helper rank {rank}: {status} (rank 0 saw: {error})")
            proc = self.procs[rank - 1]
            if proc.poll() is not None:
                return HelperError(f"helper rank {rank} exited with {proc.returncode}: {self._log_tail(rank)}")
        return None

    def alive(self) -> list[int]:
        """The process ids of helpers still running."""
        return [p.pid for p in self.procs if p.poll() is None]

    def close(self) -> None:
        """Tell the helpers to leave (or kill them when a job is in flight) and leave the process group."""
        if self.in_flight is None and self.alive():
            with contextlib.suppress(Exception):  # the store is gone: they are killed below
                self.jobs.set(f"job/{self.seq}", json.dumps({"exit": True}))
            deadline = time.monotonic() + EXIT_WAIT_S
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
        self.terminate()

    def terminate(self) -> None:
        """Kill the helpers still running and leave the process group (a broken pool is never reused)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()
        if dist.is_initialized():
            dist.destroy_process_group()
        for log in self.logs:
            log.unlink(missing_ok=True)
        self.procs = []
        self.logs = []


_POOL: HelperPool | None = None


def pool_for(backend: str, devices: tuple[str, ...]) -> HelperPool:
    """The run's pool for this device set: the current one, or a new one (a broken or other pool is closed)."""
    global _POOL
    if _POOL is not None and (_POOL.key != (backend, devices) or _POOL.in_flight is not None or not _POOL.procs):
        shutdown()
    if _POOL is None:
        _POOL = HelperPool(backend, devices)
    return _POOL


@atexit.register
def shutdown() -> None:
    """Close the run's pool: its helpers leave, or are killed (registered with atexit)."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        pool.close()


def pool_devices(devices: DeviceSet, case: Case) -> tuple[str, tuple[str, ...]]:
    """(process-group backend, torch device of each rank) for a case's whole device set, not only its replicas."""
    if case.device.kind == "cpu":
        return "gloo", ("cpu",) * CPU_REPLICAS
    peers = case.peers or (case.device,)
    return "nccl", tuple(str(torch_device(d)) for d in peers)


def build_multi(case: Case, backend: Backend) -> Prepared:
    """Rank 0's part of an allreduce or scaling case; the pool's helpers run theirs."""
    params = dict(case.params)
    devices = device_set("torch", case.device, case.peers or (case.device,), int(params["replicas"]))
    if params.get("model") == "resnet50":
        try:
            resnet50(torch.device("meta"), RESNET_CLASSES)
        except ModelUnavailable as exc:
            raise CaseSkipped("unavailable", str(exc)) from None
    group_backend, ranks = pool_devices(devices, case)
    if not dist.is_available():
        raise CaseSkipped("unsupported", f"torch {torch.__version__} is built without torch.distributed")
    if group_backend == "nccl" and not dist.is_nccl_available():
        raise CaseSkipped("unsupported", f"torch {torch.__version__} has no NCCL for GPU collectives")
    device = torch.device(ranks[0])
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL's communicators of this process live on the case's first GPU
    pool = pool_for(group_backend, ranks)
    job = pool.post(case.workload.name, params, backend.settings.get("mnist"))
    with pool.explained():
        work = make_work(job, 0, pool.groups, device)
    assert work is not None
    made = {"calls": 0}

    def call() -> torch.Tensor:
        made["calls"] += 1
        if made["calls"] > job.calls:
            raise RuntimeError(f"job {job.seq} was set up for {job.calls} calls; the helpers stop there")
        with pool.explained():
            return work.call()

    def facts(median_s: float) -> dict[str, Any]:
        if made["calls"] != job.calls:
            raise RuntimeError(f"job {job.seq} made {made['calls']} of its {job.calls} calls; the helpers wait")
        with pool.explained():
            out = work.finish()
        pool.finish(job)
        if case.workload.name == "allreduce":
            measured = bandwidth_facts(params, median_s)
        else:
            samples = float(params["steps_per_call"]) * int(params["per_replica_batch"])
            measured = {"strategy": "torch.nn.parallel.DistributedDataParallel",
                        "samples_per_s_per_replica": samples / median_s}  # fmt: skip
        return {
            **measured,
            **out,
            **devices.facts(),
            "process_group": group_backend,
            "processes": pool.world,  # the pool's ranks; ranks beyond `replicas` sat this case out
            "threads_per_process": job.threads,
        }

    return Prepared(call, facts)
