"""Backends load lazily: asking for torch never imports TensorFlow, and the other way round."""

from __future__ import annotations

import importlib

from bench.backends.base import Backend, BackendUnavailable

BACKEND_MODULES = {
    "tensorflow": ("bench.backends.tf_backend", "TensorFlowBackend", "tensorflow"),
    "torch": ("bench.backends.torch_backend", "TorchBackend", "torch"),
}


class BackendSelectionError(ValueError):
    """A `--backend` value naming no known backend."""


def parse_backends(spec: str) -> list[str]:
    """`tensorflow,torch` -> the backend names, checked against the known ones."""
    names = [w.strip().lower() for w in spec.split(",") if w.strip()]
    aliases = {"tf": "tensorflow", "pytorch": "torch"}
    names = [aliases.get(n, n) for n in names]
    unknown = [n for n in names if n not in BACKEND_MODULES]
    if unknown or not names:
        raise BackendSelectionError(
            f"--backend: unknown backend {', '.join(unknown) or repr(spec)}; backends: {', '.join(BACKEND_MODULES)}"
        )
    return list(dict.fromkeys(names))


def load_backend(name: str) -> Backend:
    """The backend called `name`, or BackendUnavailable saying in one line why it cannot run here."""
    module_name, class_name, package = BACKEND_MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] == package:
            raise BackendUnavailable(f"{name} is not installed ({exc})") from None
        raise
    backend: Backend = getattr(module, class_name)()
    return backend


__all__ = ["Backend", "BackendSelectionError", "BackendUnavailable", "load_backend", "parse_backends"]
