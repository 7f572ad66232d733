"""The scripted backend's own parts: its virtual clock, the DEVICEBENCH_FAKE_* script, the time models, the GPUs'
NVML readings (power, energy, throttle reasons, identity), the multi-device device sets, and the serving and
training models (calibrated on the real H200 run)."""

import random
import signal
import statistics

import pytest

from bench.cases import Case, make_cases
from bench.devices import Device
from bench.hardware.sku import detect_sku
from bench.profiles import get_profile
from bench.workloads.allreduce import ALLREDUCE
from bench.workloads.checkpoint import CHECKPOINT
from bench.workloads.inference import INFERENCE
from bench.workloads.matmul import MATMUL
from bench.workloads.membw import MEMBW
from bench.workloads.mnist_amp import MNIST_AMP
from bench.workloads.resnet50_train import RESNET50_TRAIN
from bench.workloads.scaling import SCALING
from bench.workloads.sustained import SUSTAINED
from bench.workloads.transfer import TRANSFER
from tests.fake_backend import CLOCK, FakeTensorFlowBackend, FakeTorchBackend, OutOfMemoryError, VirtualClock
from tests.fake_gpus import GPUS, SW_POWER_CAP, SW_THERMAL, identity_of
from tests.fake_hosts import H100, HOSTS, RTX_A4000, Faults, Script, ScriptError
from tests.fake_training import book_loss

STANDARD = get_profile("standard")


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
            "DEVICEBENCH_FAKE_FAULTS": "oom_from_n=4096;signal=SIGTERM@3;nan_loss_on=*eager*;corrupt=*GPU:0*@3",
            "DEVICEBENCH_FAKE_HEAT": "5",
        }
    )
    assert [slot.model.name for slot in script.host.gpus] == ["NVIDIA GeForce RTX 4090"]
    assert (script.seed, script.host.driver, dict(script.versions)) == (7, "560.35.03", {"tensorflow": "2.20.0"})
    assert script.time_factor("tensorflow-GPU:0-n256-float32") == pytest.approx(1.25 * 2.0 * 0.5)
    assert script.time_factor("tensorflow-CPU:0-n512-float32") == pytest.approx(1.25)
    assert script.noise_for("tensorflow-CPU:0-eager-b64-s30 mnist", 0.02) == 0.5
    assert script.faults == Faults(
        oom_from_n=4096,
        signal=signal.SIGTERM,
        signal_in_case=3,
        nan_loss_on="*eager*",
        corrupt_on="*GPU:0*",
        corrupt_from_round=3,
    )
    assert script.heat_s == 5.0
    assert script.seed_for("a", "case") == script.seed_for("a", "case") != script.seed_for("b", "case")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HOST", "mainframe", "DEVICEBENCH_FAKE_HOST='mainframe' is not a scripted host; hosts: testbox, laptop"),
        ("SPEED", "fast", "DEVICEBENCH_FAKE_SPEED: 'fast' is not a number"),
        ("SLOW", "*n256*", "DEVICEBENCH_FAKE_SLOW: '*n256*' is not KEY=VALUE"),
        ("FAULTS", "explode=1", "DEVICEBENCH_FAKE_FAULTS: unknown switch 'explode'"),
        ("FAULTS", "signal=SIGTERM", "DEVICEBENCH_FAKE_FAULTS: signal='SIGTERM' is not like SIGTERM@3"),
        ("FAULTS", "corrupt=*GPU:0*", "DEVICEBENCH_FAKE_FAULTS: corrupt='*GPU:0*' is not like *GPU:0*@3"),
        ("HEAT", "hot", "DEVICEBENCH_FAKE_HEAT: 'hot' is not a number"),
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
        prepared = backend.build(
            Case(TRANSFER, device, {"direction": "h2d", "bytes": 2**20, "host_memory": "pageable"})
        )
        assert prepared.facts(1e-5)["zero_copy"] is shared


def steady_seconds(prepared, calls: int = 5) -> float:
    """The median time of a scripted call after its first."""
    times = []
    prepared.call()
    for _ in range(calls):
        before = CLOCK.peek()
        prepared.call()
        times.append(CLOCK.peek() - before)
    return statistics.median(times)


@pytest.fixture
def scripted_gpus(monkeypatch):
    """Attach the scripted NVML GPUs of a host (as the golden plugin does) and detach them afterwards."""

    def attach(host: str, **env: str) -> None:
        monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", host)
        for key, value in env.items():
            monkeypatch.setenv(f"DEVICEBENCH_FAKE_{key}", value)
        GPUS.attach(Script.from_env(), host)

    yield attach
    GPUS.detach()


def test_memory_bandwidth_reaches_the_scripted_rate_and_records_the_real_facts(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "gpubox")
    backend = FakeTensorFlowBackend()
    cpu, gpu = backend.devices()
    size = 1024 * 2**20
    for device, rates in ((gpu, H100.membw_gbs), (cpu, HOSTS["gpubox"].cpu.membw_gbs)):
        for kernel, rate, arrays in (("copy", rates[0], 2), ("triad", rates[1], 3)):
            prepared = backend.build(Case(MEMBW, device, {"kernel": kernel, "bytes": size, "dtype": "float32"}))
            gbs = arrays * size / steady_seconds(prepared) / 1e9
            assert 0.95 * rate < gbs < 1.01 * rate
            facts = prepared.facts(1.0)
            assert facts["verified"] is True and facts["kernel"] == kernel
            assert ("fresh_buffer" in facts) == (device.kind == "cpu")  # TensorFlow checks it on the CPU only
    torch = FakeTorchBackend()
    facts = torch.build(Case(MEMBW, torch.devices()[1], {"kernel": "triad", "bytes": size, "dtype": "float32"})).facts(
        1
    )
    assert facts["how"] == "torch.add(b, c, alpha=3, out=out)" and facts["fresh_buffer"] is True


def test_pinned_copies_beat_pageable_ones_and_both_directions_carry_twice_the_bytes(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    backend = FakeTorchBackend()
    gpu = backend.devices()[1]

    def gbs(direction: str, memory: str) -> float:
        params = {"direction": direction, "bytes": 64 * 2**20, "host_memory": memory}
        return TRANSFER.throughput(params, steady_seconds(backend.build(Case(TRANSFER, gpu, params))))

    pageable, pinned, both = gbs("h2d", "pageable"), gbs("h2d", "pinned"), gbs("both", "pinned")
    assert pageable < 0.5 * pinned < pinned < both < 2 * pinned
    assert pinned == pytest.approx(H100.pinned_gbs[0], rel=0.05)
    facts = backend.build(Case(TRANSFER, gpu, {"direction": "both", "bytes": 2**20, "host_memory": "pinned"})).facts(1)
    assert facts == {
        "pinned": True,
        "numpy_interop": "copied over the host link",
        "copy": "pinned h2d and d2h at once, one CUDA stream each (non_blocking=True)",
        "zero_copy": False,
    }
    tf = FakeTensorFlowBackend()
    with pytest.raises(ValueError, match="TensorFlow cannot pin host memory"):
        tf.build(Case(TRANSFER, tf.devices()[1], {"direction": "h2d", "bytes": 2**20, "host_memory": "pinned"}))


def test_the_scripted_gpus_have_their_boards_nvml_identity():
    assert detect_sku(identity_of(H100).identity()).spec.id == "h100-sxm"
    for host in ("workstation", "nightly", "fleet"):
        for slot in HOSTS[host].gpus:
            if slot.model != RTX_A4000:
                assert detect_sku(identity_of(slot.model).identity()).known, slot.model.name
    unknown = detect_sku(identity_of(RTX_A4000).identity())
    assert not unknown.known and "is not in the spec table" in unknown.reason


def test_large_half_precision_matmuls_hit_the_power_cap_and_run_slower(monkeypatch, scripted_gpus):
    scripted_gpus("gpubox")
    backend = FakeTensorFlowBackend()
    gpu = backend.devices()[1]
    (nvml_gpu,) = [state.gpu for state in GPUS.gpus.values()]

    def run(n: int, dtype: str) -> tuple[float, int, int]:
        seconds = steady_seconds(backend.build(Case(MATMUL, gpu, {"n": n, "dtype": dtype})))
        return seconds, nvml_gpu.clock_events, nvml_gpu.power_mw

    _, f32_events, f32_mw = run(16384, "float32")
    bf16_s, bf16_events, bf16_mw = run(16384, "bfloat16")
    assert (f32_events, bf16_events) == (0, SW_POWER_CAP)
    assert f32_mw < bf16_mw == H100.max_w * 1000
    uncapped = 2 * 16384**3 / (H100.gflops["bfloat16"] * 1e9 / (1 + (H100.half_n / 16384) ** 2))
    assert bf16_s > 1.03 * uncapped  # held-down clocks: slower than the scripted arithmetic
    assert run(4096, "bfloat16")[1] == 0  # a smaller one stays below the cap


def test_a_poorly_cooled_gpu_throttles_after_its_heat_budget(monkeypatch, scripted_gpus):
    scripted_gpus("gpubox", HEAT="0.3")
    backend = FakeTensorFlowBackend()
    gpu = backend.devices()[1]
    (nvml_gpu,) = [state.gpu for state in GPUS.gpus.values()]
    prepared = backend.build(Case(SUSTAINED, gpu, {"n": 16384, "dtype": "float32", "seconds": 5.0}))
    rounds, events = [], []
    for _ in range(30):
        before = CLOCK.peek()
        prepared.call()
        rounds.append(CLOCK.peek() - before)
        events.append(nvml_gpu.clock_events)
    hot = events.index(SW_THERMAL)
    assert 0 < hot < 25 and all(e == SW_THERMAL for e in events[hot:])
    assert statistics.median(rounds[hot + 1 :]) > 1.1 * statistics.median(rounds[:hot])
    assert nvml_gpu.sm_clock_mhz < H100.max_sm_mhz


def test_a_sustained_checksum_goes_wrong_from_the_scripted_round(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "cibox")
    monkeypatch.setenv("DEVICEBENCH_FAKE_FAULTS", "corrupt=*GPU:0*@3")
    backend = FakeTensorFlowBackend()
    cpu, gpu = backend.devices()
    for device, bad_round in ((cpu, None), (gpu, 3)):
        prepared = backend.build(Case(SUSTAINED, device, {"n": 1024, "dtype": "float32", "seconds": 1.0}))
        failures = [prepared.check_round(prepared.call(), index, 0.01) for index in range(5)]
        first = next((i for i, failure in enumerate(failures) if failure), None)
        assert first == bad_round
        if bad_round is not None:
            assert failures[bad_round].startswith("round 3: the result's checksum")
        else:
            record = prepared.facts(0.01)["sustained"]
            assert record["rounds_checked"] == 5 and record["differing_rounds"] == 0
            assert record["round_end_s"] == sorted(record["round_end_s"])


def run_case(backend, case) -> tuple[float, dict]:
    """All of a multi-device case's calls, then its facts at the median call time."""
    prepared = backend.build(case)
    times = []
    for _ in range(case.params["calls"]):
        before = CLOCK.peek()
        prepared.call()
        times.append(CLOCK.peek() - before)
    median = statistics.median(times[1:])
    return median, prepared.facts(median)


def test_scaling_over_two_gpus_is_less_than_twice_as_fast_and_says_where_it_ran(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "workstation")
    for backend, via in ((FakeTensorFlowBackend(), "CollectiveAllReduce (NCCL)"), (FakeTorchBackend(), "nccl")):
        cases = {
            c.id.split("-", 2)[2]: c for c in make_cases(SCALING, STANDARD, backend.devices()) if not c.skip_reason
        }
        speed = {}
        for label in ("mnist-r1-b256", "mnist-r2-b256", "resnet50-64px-r1-b256", "resnet50-64px-r2-b256"):
            case = cases[label]
            median, facts = run_case(backend, case)
            speed[label] = SCALING.throughput(case.params, median)
            replicas = case.params["replicas"]
            assert facts["replica_devices"] == ",".join(f"GPU:{i}" for i in range(replicas))
            assert facts["device_set_kind"] == "gpus" and facts["replicas_in_sync"] is True
            assert facts["final_loss"] < facts["initial_loss"]
            assert via in (facts.get("cross_device_ops"), facts.get("process_group"))
        for model in ("mnist", "resnet50-64px"):
            assert speed[f"{model}-r2-b256"] < 2 * speed[f"{model}-r1-b256"]


def test_all_reduce_bandwidth_grows_with_the_message_and_stays_under_the_link(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "workstation")
    backend = FakeTensorFlowBackend()
    cpu = backend.devices()[0]
    busbw = {}
    for case in make_cases(ALLREDUCE, STANDARD, backend.devices()):
        if case.skip_reason:
            continue
        _, facts = run_case(backend, case)
        assert facts["correct"] is True and facts["in_place"] is False
        busbw[(case.device.name, case.params["bytes"])] = facts["busbw_gbps"]
        expected = "CPU:0,CPU:1" if case.device == cpu else "GPU:0,GPU:1"
        assert facts["replica_devices"] == facts["collective_op_devices"] == expected
    gpu_sizes = sorted(size for device, size in busbw if device == "GPU:0")
    gpu_bw = [busbw[("GPU:0", size)] for size in gpu_sizes]
    assert gpu_bw == sorted(gpu_bw) and gpu_bw[-1] < min(slot.model.pinned_gbs[0] for slot in HOSTS["workstation"].gpus)
    assert max(bw for (device, _), bw in busbw.items() if device == "CPU:0") < gpu_bw[-1]


def steady_throughput(backend, workload, device, params) -> float:
    """A case's throughput at its median steady call."""
    return workload.throughput(params, steady_seconds(backend.build(Case(workload, device, params))))


def resnet(precision: str, batch: int, size: int = 224) -> dict:
    """A ResNet-50 training case's parameters."""
    return {"precision": precision, "image_size": size, "batch_size": batch, "steps_per_call": 5, "calls": 6}


def test_resnet50_trains_as_the_real_hopper_did_and_float32_runs_out_of_memory_at_batch_1024(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    backend = FakeTorchBackend()
    backend.set_tf32(False)  # as the H200 run: 1,000 images/s float32 and 5,261 mixed float16 at batch 128
    gpu = backend.devices()[1]
    float32 = steady_throughput(backend, RESNET50_TRAIN, gpu, resnet("float32", 128))
    half = steady_throughput(backend, RESNET50_TRAIN, gpu, resnet("mixed_float16", 128))
    assert 900 < float32 < 1100 and 4500 < half < 6000
    assert steady_throughput(backend, RESNET50_TRAIN, gpu, resnet("mixed_float16", 32)) < 0.5 * half  # launch-bound
    with pytest.raises(OutOfMemoryError, match=r"CUDA out of memory\. Tried to allocate"):
        backend.build(Case(RESNET50_TRAIN, gpu, resnet("float32", 1024)))
    backend.build(Case(RESNET50_TRAIN, gpu, resnet("float32", 512)))
    backend.build(Case(RESNET50_TRAIN, gpu, resnet("mixed_float16", 1024)))  # half the activations: it fits


def test_tensorflow_reuses_its_resnet50_trainer_for_the_next_batch_only(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    backend = FakeTensorFlowBackend()
    gpu = backend.devices()[1]
    reused = []
    for params in (resnet("float32", 32), resnet("float32", 64), resnet("mixed_float16", 32), resnet("float32", 32)):
        prepared = backend.build(Case(RESNET50_TRAIN, gpu, params))
        first = CLOCK.peek()
        prepared.call()
        first_s = CLOCK.peek() - first
        reused.append((prepared.facts(1.0)["graph_reused"], first_s > 10))  # a new trainer traces its step
    assert reused == [(False, True), (True, False), (False, True), (False, True)]


def test_batch_one_latency_has_a_tail_and_a_compiled_model_costs_its_first_request(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    backend = FakeTorchBackend()
    cpu = backend.devices()[0]
    for mode, first_over in (("eager", 0.0), ("compile", 1.0)):
        prepared = backend.build(
            Case(INFERENCE, cpu, {"model": "book", "image_size": 28, "mode": mode, "batch_size": 1})
        )
        times = []
        for _ in range(201):
            before = CLOCK.peek()
            prepared.call()
            times.append(CLOCK.peek() - before)
        facts = INFERENCE.round_facts({}, times[1:])
        assert facts["latency_p99_s"] > 1.2 * facts["latency_p50_s"]
        assert times[0] - facts["latency_p50_s"] > first_over


def test_a_save_moves_the_file_at_the_disks_pace_and_records_where_it_went(monkeypatch):
    monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", "mixedbox")
    backend = FakeTorchBackend()
    backend.settings = {"mnist": None, "results_dir": "/anywhere"}
    gpu = backend.devices()[1]
    params = {"format": "torch-state-dict", "direction": "save", "model": "resnet50"}
    prepared = backend.build(Case(CHECKPOINT, gpu, params))
    seconds = steady_seconds(prepared)
    facts = prepared.facts(seconds)
    assert facts["directory"] == "/results" and facts["on_results_disk"] is True  # the image's results volume
    assert facts["file_mb_per_s"] < HOSTS["mixedbox"].disk_gbs[0] * 1e3
    assert 500 < CHECKPOINT.throughput(params, seconds) < 800  # the H200 run saved ResNet-50 at 601 MB/s


def test_mixed_precision_on_a_cpu_follows_its_bfloat16_units(monkeypatch):
    params = {"mode": "function", "batch_size": 4096, "steps_per_call": 2, "calls": 3}
    speedups = {}
    for host in ("gpubox", "mixedbox"):  # a Xeon with AMX, an EPYC without bfloat16 (its cases are skipped)
        monkeypatch.setenv("DEVICEBENCH_FAKE_HOST", host)
        backend = FakeTensorFlowBackend()
        cpu = backend.devices()[0]
        rates = [
            steady_throughput(backend, MNIST_AMP, cpu, {**params, "precision": precision})
            for precision in ("float32", "mixed_bfloat16")
        ]
        speedups[host] = rates[1] / rates[0]
    assert speedups["gpubox"] > 1.5 > speedups["mixedbox"]


def test_a_large_batch_raises_the_loss_before_it_falls():
    rng = random.Random(0)
    assert book_loss(6, 4096, 2.5, rng) > 4 > 2.5 > book_loss(768, 32, 2.5, rng)
