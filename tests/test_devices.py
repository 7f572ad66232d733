"""Device names and --devices selection."""

import pytest

from bench.devices import Device, DeviceSelectionError, normalise_device_name, select_devices

CPU = Device("tensorflow", "CPU:0", "cpu", "Some CPU")
GPU0 = Device("tensorflow", "GPU:0", "gpu", "GPU A")
GPU1 = Device("tensorflow", "GPU:1", "gpu", "GPU B")
ALL = [CPU, GPU0, GPU1]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("gpu:1", "GPU:1"),
        ("/device:GPU:0", "GPU:0"),
        ("/GPU:0", "GPU:0"),
        ("/job:localhost/replica:0/task:0/device:CPU:0", "CPU:0"),
        ("/physical_device:GPU:3", "GPU:3"),
    ],
)
def test_device_names_are_normalised(raw, name):
    assert normalise_device_name(raw) == name


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("all", ALL),
        ("cpu", [CPU]),
        ("gpu", [GPU0, GPU1]),
        ("CPU:0,GPU:1", [CPU, GPU1]),
        ("gpu:1, cpu:0", [GPU1, CPU]),
        ("GPU:0,gpu,GPU:0", [GPU0, GPU1]),
    ],
)
def test_selection(spec, expected):
    assert select_devices(spec, ALL) == expected


def test_unknown_device_names_the_devices_that_exist():
    with pytest.raises(DeviceSelectionError, match=r"unknown device 'GPU:7'; devices: CPU:0, GPU:0, GPU:1"):
        select_devices("CPU:0,GPU:7", ALL)


def test_gpu_without_gpu_is_a_usage_error():
    with pytest.raises(DeviceSelectionError, match=r"--devices gpu: no GPU is visible; devices: CPU:0"):
        select_devices("gpu", [CPU])


@pytest.mark.parametrize("spec", ["", " , ", "banana"])
def test_nonsense_is_rejected(spec):
    with pytest.raises(DeviceSelectionError):
        select_devices(spec, ALL)
