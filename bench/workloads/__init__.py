"""The workloads, each described once and built per backend and device."""

from bench.cases import Workload
from bench.workloads.matmul import MATMUL
from bench.workloads.mnist import MNIST
from bench.workloads.mnist_amp import MNIST_AMP
from bench.workloads.mnist_batch import MNIST_BATCH
from bench.workloads.resnet50_train import RESNET50_TRAIN
from bench.workloads.tfdata import TFDATA
from bench.workloads.transfer import TRANSFER

WORKLOADS: dict[str, Workload] = {
    w.name: w for w in (MATMUL, MNIST, TFDATA, TRANSFER, MNIST_AMP, RESNET50_TRAIN, MNIST_BATCH)
}
