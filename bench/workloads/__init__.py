"""The workloads, each described once and built per backend and device."""

from bench.cases import Workload
from bench.workloads.matmul import MATMUL

WORKLOADS: dict[str, Workload] = {w.name: w for w in (MATMUL,)}
