"""The workloads, each described once and built per backend and device."""

from bench.cases import Workload
from bench.workloads.checkpoint import CHECKPOINT
from bench.workloads.dispatch import DISPATCH
from bench.workloads.inference import INFERENCE
from bench.workloads.matmul import MATMUL
from bench.workloads.mnist import MNIST
from bench.workloads.tfdata import TFDATA
from bench.workloads.transfer import TRANSFER

WORKLOADS: dict[str, Workload] = {w.name: w for w in (MATMUL, MNIST, TFDATA, TRANSFER, INFERENCE, CHECKPOINT, DISPATCH)}
