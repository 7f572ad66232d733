"""The scripted backend's own parts: its virtual clock, the DEVICEBENCH_FAKE_* script, and the time models."""

import signal

import pytest

from bench.cases import Case
from bench.devices import Device
from bench.workloads import MATMUL, TRANSFER
from tests.fake_backend import CLOCK, FakeTensorFlowBackend, FakeTorchBackend, VirtualClock
from tests.fake_hosts import Faults, Script, ScriptError


def test_the_clock_moves_only_when_told_and_a_little_on_every_read():
    clock = VirtualClock()
    heard = []
    clock.listeners.append(heard.append)
    first, second = clock.now(), clock.now()
    assert 0 < first < second < 1e-8 and clock.peek() == second
    clock.advance(2.0)
    assert heard == [pytest.approx(2.0 + second)] and clock.peek() == heard[0]


def test_the_script_reads_every_variable():
    script = Script.from_env(
        {
            "DEVICEBENCH_FAKE_HOST": "workstation",
            "DEVICEBENCH_FAKE_GPUS": "1",
            "DEVICEBENCH_FAKE_SEED": "7",
            "DEVICEBENCH_FAKE_SPEED": "1.25",
            "DEVICEBENCH_FAKE_SLOW": "*n256*=2.0; *GPU:0*=0.5",
            "DEVICEBENCH_FAKE_NOISE": "*mnist*=0.5",
            "DEVICEBENCH_FAKE_DRIVER": "560.35.03",
            "DEVICEBENCH_FAKE_VERSIONS": "tensorflow=2.20.0",
            "DEVICEBENCH_FAKE_FAULTS": "oom_from_n=4096;signal=SIGTERM@3;nan_loss_on=*eager*",
        }
    )
    assert [slot.model.name for slot in script.host.gpus] == ["NVIDIA GeForce RTX 4090"]
    assert (script.seed, script.host.driver, dict(script.versions)) == (7, "560.35.03", {"tensorflow": "2.20.0"})
    assert script.time_factor("tensorflow-GPU:0-n256-float32") == pytest.approx(1.25 * 2.0 * 0.5)
    assert script.time_factor("tensorflow-CPU:0-n512-float32") == pytest.approx(1.25)
    assert script.noise_for("tensorflow-CPU:0-eager-b64-s30 mnist", 0.02) == 0.5
    assert script.faults == Faults(oom_from_n=4096, signal=signal.SIGTERM, signal_in_case=3, nan_loss_on="*eager*")
    assert script.seed_for("a", "case") == script.seed_for("a", "case") != script.seed_for("b", "case")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HOST", "mainframe", "DEVICEBENCH_FAKE_HOST='mainframe' is not a scripted host; hosts: testbox, laptop"),
        ("SPEED", "fast", "DEVICEBENCH_FAKE_SPEED: 'fast' is not a number"),
        ("SLOW", "*n256*", "DEVICEBENCH_FAKE_SLOW: '*n256*' is not KEY=VALUE"),
        ("FAULTS", "explode=1", "DEVICEBENCH_FAKE_FAULTS: unknown switch 'explode'"),
        ("FAULTS", "signal=SIGTERM", "DEVICEBENCH_FAKE_FAULTS: signal='SIGTERM' is not like SIGTERM@3"),
    ],
)
def test_a_bad_variable_is_one_error_naming_it(variable, value, message):
    with pytest.raises(ScriptError) as info:
        Script.from_env({f"DEVICEBENCH_FAKE_{variable}": value})
    assert str(info.value).startswith(message)


def test_matmul_is_dispatch_bound_when_small_and_the_gpu_wins_when_large(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "gpubox")
    backend = FakeTensorFlowBackend()
    cpu, gpu = backend.devices()

    def seconds(device: Device, n: int) -> float:
        call = backend.build(Case(MATMUL, device, {"n": n, "dtype": "float32"})).call
        call()  # the first call also picks its kernels
        before = CLOCK.peek()
        call()
        return CLOCK.peek() - before

    assert 0.7 < seconds(cpu, 100) / seconds(gpu, 100) < 1.3
    assert seconds(cpu, 10000) / seconds(gpu, 10000) > 25


def test_torch_on_the_cpu_shares_the_buffer_and_names_devices_its_way(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    backend = FakeTorchBackend()
    cpu, gpu = backend.devices()
    assert (backend.placement_of(cpu), backend.placement_of(gpu)) == ("cpu", "cuda:0")
    assert backend.device_name_of("cuda:0") == "GPU:0" and backend.device_name_of("cpu") == "CPU:0"
    assert "tfdata" not in backend.builders()
    for device, shared in ((cpu, True), (gpu, False)):
        prepared = backend.build(Case(TRANSFER, device, {"direction": "h2d", "bytes": 2**20}))
        assert prepared.facts(1e-5)["zero_copy"] is shared
