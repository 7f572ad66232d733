"""The workloads, each described once and built per backend and device."""

from bench.cases import Workload
from bench.workloads.allreduce import ALLREDUCE
from bench.workloads.checkpoint import CHECKPOINT
from bench.workloads.dispatch import DISPATCH
from bench.workloads.inference import INFERENCE
from bench.workloads.matmul import MATMUL
from bench.workloads.membw import MEMBW
from bench.workloads.mnist import MNIST
from bench.workloads.mnist_amp import MNIST_AMP
from bench.workloads.mnist_batch import MNIST_BATCH
from bench.workloads.peaks import PEAKS
from bench.workloads.resnet50_train import RESNET50_TRAIN
from bench.workloads.scaling import SCALING
from bench.workloads.sustained import SUSTAINED
from bench.workloads.tfdata import TFDATA
from bench.workloads.transfer import TRANSFER

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        MATMUL,
        MNIST,
        TFDATA,
        TRANSFER,
        MEMBW,
        SUSTAINED,
        SCALING,
        ALLREDUCE,
        INFERENCE,
        CHECKPOINT,
        DISPATCH,
        MNIST_AMP,
        RESNET50_TRAIN,
        MNIST_BATCH,
        PEAKS,
    )
}
