"""Inference in PyTorch: the book model and torchvision's ResNet-50, eager and `torch.compile`, any batch size."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.torch_common import torch_device
from bench.backends.torch_models import ModelUnavailable, book_model, resnet50
from bench.cases import Case
from bench.workloads.inference import reference_facts
from bench.workloads.mnist_data import IMAGE_PIXELS


def make_model(model: str, where: torch.device) -> nn.Module:
    """The model in eval mode on the device; a recorded skip where torchvision cannot build ResNet-50."""
    try:
        made = book_model(where) if model == "book" else resnet50(where)
    except ModelUnavailable as exc:
        raise CaseSkipped("unavailable", f"ResNet-50 on torch: {exc}") from None
    return made.eval()


def uses_tf32(model: str, where: torch.device) -> bool:
    """Whether float32 math runs as TF32 here: CUDA matmuls when allowed, ResNet's cuDNN convolutions when allowed."""
    if where.type != "cuda":
        return False
    return bool(torch.backends.cuda.matmul.allow_tf32) or (model != "book" and bool(torch.backends.cudnn.allow_tf32))


def build_inference(case: Case, backend: Backend) -> Prepared:
    """One request of `batch_size` samples, on inputs made on the device; the output is checked against eager."""
    params = dict(case.params)
    model_name, mode = str(params["model"]), str(params["mode"])
    batch_size, image_size = int(params["batch_size"]), int(params["image_size"])
    if mode not in ("eager", "compile"):
        raise ValueError(f"unknown torch inference mode {mode!r}; modes: eager, compile")
    where = torch_device(case.device)
    model = make_model(model_name, where)
    shape = (batch_size, IMAGE_PIXELS) if model_name == "book" else (batch_size, 3, image_size, image_size)
    x = torch.rand(shape, device=where, generator=torch.Generator(device=where).manual_seed(batch_size))
    with torch.inference_mode():
        reference = model(x).cpu().numpy()  # eager: what every mode must reproduce
    # dynamic=False: each batch size gets code for its own shape, as a server with fixed batch sizes would
    run = torch.compile(model, dynamic=False) if mode == "compile" else model

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return run(x)

    def facts(median_s: float) -> dict[str, Any]:
        math_mode = "tf32" if uses_tf32(model_name, where) else "float32"
        return {
            **reference_facts(call().cpu().numpy(), reference, math_mode),
            "parameters": sum(p.numel() for p in model.parameters()),
            "input_shape": list(shape),
            "compiled": "torch.compile(model, dynamic=False), default mode" if mode == "compile" else None,
        }

    return Prepared(call, facts)
