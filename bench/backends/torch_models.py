"""The torch models the torch workloads share: the book's MNIST model and torchvision's ResNet-50 where it works."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from bench.workloads.mnist import HIDDEN
from bench.workloads.mnist_data import CLASSES, IMAGE_PIXELS

SEED = 0


class ModelUnavailable(RuntimeError):
    """A model this torch install cannot build (e.g. torchvision missing or broken); the message says why."""


def book_model(device: torch.device) -> nn.Sequential:
    """Linear 784-1024-1024-10 without activations, initialised like Keras Dense (Glorot uniform, zero bias)."""
    torch.manual_seed(SEED)
    sizes = (IMAGE_PIXELS, *HIDDEN, CLASSES)
    layers = [nn.Linear(i, o) for i, o in pairwise(sizes)]
    for layer in layers:
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers).to(device)


def resnet50(device: torch.device, classes: int = 1000) -> nn.Module:
    """torchvision's ResNet-50, randomly initialised (weights=None: nothing is downloaded); ModelUnavailable if not."""
    try:
        from torchvision.models import resnet50 as make
    except Exception as exc:  # ImportError, or a torchvision built for another torch ("operator ... does not exist")
        raise ModelUnavailable(f"torchvision is not usable here ({type(exc).__name__}: {exc})") from None
    torch.manual_seed(SEED)
    return make(weights=None, num_classes=classes).to(device)
