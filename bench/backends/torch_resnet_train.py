"""ResNet-50 training in PyTorch: torchvision's resnet50 (weights=None), synthetic data made on the device.

Channels-last memory format (what tensor cores and oneDNN want), SGD with momentum, cuDNN autotuning on
during the calls (the first call, untimed, pays for it). Without a usable torchvision the case is a recorded
`unavailable` skip.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.torch_amp import autocast, grad_scaler, precision_facts
from bench.backends.torch_common import torch_device
from bench.backends.torch_models import ModelUnavailable, resnet50
from bench.cases import Case
from bench.workloads.resnet50_train import CLASSES, LEARNING_RATE, MOMENTUM

SEED = 0


def synthetic_batch(batch: int, image_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed ImageNet-shaped batch made on the device (channels last): uniform [0, 1) images, 1000-class labels."""
    generator = torch.Generator(device=device).manual_seed(SEED + batch)
    images = torch.rand((batch, 3, image_size, image_size), generator=generator, device=device)
    labels = torch.randint(0, CLASSES, (batch,), generator=generator, device=device)
    return images.contiguous(memory_format=torch.channels_last), labels


def build_resnet50_train(case: Case, backend: Backend) -> Prepared:
    """One call trains steps_per_call SGD steps on the case's fixed synthetic batch; returns the last loss."""
    params = dict(case.params)
    precision, size = str(params["precision"]), int(params["image_size"])
    batch, steps = int(params["batch_size"]), int(params["steps_per_call"])
    where = torch_device(case.device)
    try:
        model = resnet50(where, CLASSES)
    except ModelUnavailable as exc:
        raise CaseSkipped("unavailable", str(exc)) from None
    model = model.to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    scaler = grad_scaler(where, precision)
    loss_of = nn.CrossEntropyLoss()
    images, labels = synthetic_batch(batch, size, where)
    losses: dict[str, torch.Tensor] = {}

    def call() -> torch.Tensor:
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True  # only while this case runs: other workloads keep the default
        try:
            loss = None
            for _ in range(steps):
                optimizer.zero_grad(set_to_none=True)
                with autocast(where, precision):
                    logits = model(images)
                loss = loss_of(logits.float(), labels)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                losses.setdefault("first", loss.detach())  # a tensor: reading it would sync inside the timing
        finally:
            torch.backends.cudnn.benchmark = before
        assert loss is not None
        losses["last"] = loss.detach()
        return losses["last"]

    def facts(median_s: float) -> dict[str, Any]:
        return {
            "initial_loss": float(losses["first"].item()),
            "final_loss": float(losses["last"].item()),
            "loss_note": "training-mode loss on the case's fixed batch: its first step's and its last step's",
            "data": "synthetic: one fixed batch of uniform [0, 1) images and 1000-class labels made on the device",
            "model": f"torchvision.models.resnet50(weights=None), {type(model).__name__}, channels last",
            "optimizer": f"SGD(lr={LEARNING_RATE}, momentum={MOMENTUM})",
            "compiled": None,
            "cudnn_benchmark": where.type == "cuda",
            "ms_per_step": median_s / steps * 1e3,
            **precision_facts(precision, scaler),
        }

    return Prepared(call, facts)
