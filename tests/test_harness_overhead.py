"""tools/harness_overhead.py's options and case selection (no timing is run or asserted)."""

from pathlib import Path

import pytest

from bench.cases import make_cases
from bench.devices import Device
from bench.profiles import get_profile
from bench.workloads import WORKLOADS
from tools.harness_overhead import SelectionError, bare_median, benchmark_node, main, parse_args, select_case

CPU = Device("torch", "CPU:0", "cpu", "a test CPU")


def smoke_attention() -> list:
    """The smoke profile's attention cases on a torch CPU: fwd and fwdbwd at 128 and 512 tokens."""
    return make_cases(WORKLOADS["attention"], get_profile("smoke"), [CPU])


def test_the_default_is_still_tensorflow_matmul_n1024():
    options = parse_args([])
    assert (options.workload, options.backend, options.case, options.profile, options.pairs) == (
        "matmul",
        "tensorflow",
        "n1024-float32",
        "standard",
        9,
    )
    assert parse_args(["--n", "2048"]).case == "n2048-float32"


def test_any_workload_backend_and_case_parse():
    options = parse_args(
        ["--workload", "attention", "--backend", "torch", "--case", "fwd-h12x64-s512-b1-float32", "--pairs", "7"]
    )
    assert (options.workload, options.backend, options.case, options.pairs) == (
        "attention",
        "torch",
        "fwd-h12x64-s512-b1-float32",
        7,
    )
    assert parse_args(["--workload", "attention"]).case is None  # only matmul has a default case


def test_zero_pairs_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--pairs", "0"])
    assert exit_.value.code == 2
    assert "--pairs must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "wanted",
    [
        "fwd-h12x64-s512-b1-float32",  # the label
        "torch-CPU:0-fwd-h12x64-s512-b1-float32",  # the pytest id
        "bench/benchmarks/test_attention.py::test_attention[torch-CPU:0-fwd-h12x64-s512-b1-float32]",  # node id
        "fwd-h12x64-s512",  # a part of the id only this case has
    ],
)
def test_a_case_is_named_by_label_id_node_id_or_a_unique_part(wanted):
    assert select_case(smoke_attention(), wanted).id == "torch-CPU:0-fwd-h12x64-s512-b1-float32"


def test_an_exact_label_wins_over_ids_that_contain_it():
    matmul = make_cases(WORKLOADS["matmul"], get_profile("standard"), [CPU])
    labels = [WORKLOADS["matmul"].label(dict(c.params)) for c in matmul]
    assert "n1024-float32" in labels  # the tool's default case exists in the standard profile
    assert select_case(matmul, "n1024-float32").params == {"n": 1024, "dtype": "float32"}
    assert select_case(smoke_attention(), "fwdbwd-h12x64-s512-b1-float32").params["pass"] == "forward+backward"


def test_an_ambiguous_or_unknown_case_names_the_choices():
    with pytest.raises(SelectionError, match="matches 2 cases: torch-CPU:0-fwd-h12x64-s512"):
        select_case(smoke_attention(), "s512")
    with pytest.raises(SelectionError, match=r"no runnable case matches 's4096'.*fwd-h12x64-s128-b1-float32"):
        select_case(smoke_attention(), "s4096")
    with pytest.raises(SelectionError, match="name a case with --case"):
        select_case(smoke_attention(), None)


def test_the_benchmark_node_is_found_by_its_workload_marker(tmp_path: Path):
    assert benchmark_node("attention").endswith("bench/benchmarks/test_attention.py::test_attention")
    assert benchmark_node("mnist_amp").endswith("test_mnist_amp.py::test_mnist_amp")
    with pytest.raises(SelectionError, match="marked with workload 'nope'"):
        benchmark_node("nope", tmp_path)


def test_an_unknown_workload_is_one_line_and_exit_2(capsys):
    assert main(["--workload", "nope", "--case", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness_overhead: unknown workload 'nope' (known: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("backend", "message"),
    [("jax", "--backend: unknown backend jax; backends: tensorflow, torch"), ("tensorflow,torch", "name one backend")],
)
def test_a_bad_backend_is_one_line_and_exit_2_before_any_framework_loads(capsys, backend, message):
    assert main(["--backend", backend]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness_overhead: ") and message in err and err.count("\n") == 1


def test_the_bare_loop_times_rounds_of_the_suites_calls_with_one_sync_each():
    events: list[str] = []
    bare_median(lambda: events.append("call"), lambda: events.append("sync"), rounds=3, calls=2, warmup=1)
    assert events == ["call", "sync"] + ["call", "call", "sync"] * 3
