"""Checkpoints in PyTorch: `torch.save` of a model's `state_dict` and `torch.load` + `load_state_dict` back.

A save call writes the state_dict from the device and fsyncs the file; a restore call drops the file from the
page cache, loads it onto the device (`map_location`, `weights_only=True`) and loads it into a model whose
weights were all different before.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.backends.base import Backend, CaseSkipped, Prepared
from bench.backends.checkpoint_disk import ScratchFolder, disk_facts, evict_from_cache, files_under, sync_to_disk
from bench.backends.torch_common import torch_device
from bench.backends.torch_models import ModelUnavailable, book_model, resnet50
from bench.cases import Case
from bench.workloads.checkpoint import weight_bytes


def make_model(model: str, where: torch.device) -> nn.Module:
    """The model on the device; a recorded skip where torchvision cannot build ResNet-50."""
    try:
        return book_model(where) if model == "book" else resnet50(where)
    except ModelUnavailable as exc:
        raise CaseSkipped("unavailable", f"ResNet-50 on torch: {exc}") from None


def state_bytes(model: nn.Module) -> int:
    """The bytes of a model's state_dict (parameters and buffers)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def same_state(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models' state_dicts hold the same keys and bit for bit the same tensors."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def build_checkpoint(case: Case, backend: Backend) -> Prepared:
    """Save or restore one model's state_dict, in a scratch folder beside the results (removed afterwards)."""
    fmt, direction, model_name = (str(case.params[k]) for k in ("format", "direction", "model"))
    if fmt != "torch-state-dict":
        raise ValueError(f"unknown torch checkpoint format {fmt!r}; formats: torch-state-dict")
    where = torch_device(case.device)
    source, target = make_model(model_name, where), make_model(model_name, where)
    with torch.no_grad():
        for tensor in target.state_dict().values():
            tensor.add_(1)  # other weights everywhere: a restore must overwrite every one
    expected = int(weight_bytes(dict(case.params)))
    held = state_bytes(source)
    if held != expected:
        raise RuntimeError(f"the {model_name} model holds {held} bytes of state, the workload counts {expected}")
    results_dir = backend.settings.get("results_dir")
    scratch = ScratchFolder(results_dir)  # removed in facts(), or when the case is dropped half-way
    folder = scratch.path
    path = folder / "model.pt"

    def saved() -> torch.Tensor:
        torch.save(source.state_dict(), path)
        sync_to_disk([path])
        return next(source.parameters()).detach()

    def restored() -> torch.Tensor:
        evict_from_cache([path])
        target.load_state_dict(torch.load(path, map_location=where, weights_only=True))
        return next(target.parameters()).detach()

    saved()  # a restore reads what a save wrote; a save overwrites it
    call = saved if direction == "save" else restored

    def facts(median_s: float) -> dict[str, Any]:
        if direction == "save":
            restored()  # a save is checked by reading its file back
        files = files_under(folder)
        out = {
            **disk_facts(folder, results_dir, files),
            "weight_bytes": expected,
            "weights_equal": same_state(target, source),
        }
        out["file_mb_per_s"] = out["file_bytes"] / median_s / 1e6
        scratch.remove()
        return out

    return Prepared(call, facts)
