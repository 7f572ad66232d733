"""bench.benchmark_api pinned to the installed pytest-benchmark: the private attributes it uses are where it expects."""

import inspect

import pytest
import pytest_benchmark
from packaging.specifiers import SpecifierSet
from pytest_benchmark.fixture import BenchmarkFixture

from bench.benchmark_api import MODE, SUPPORTED, claim, keep_rounds


def test_the_installed_pytest_benchmark_is_a_supported_release() -> None:
    assert pytest_benchmark.__version__ in SpecifierSet(",".join(SUPPORTED))


def test_its_statistics_divide_a_round_by_its_iterations_as_keep_rounds_expects() -> None:
    from pytest_benchmark.stats import Metadata

    assert "duration / self.iterations" in inspect.getsource(Metadata.update)


def test_the_fixture_still_has_the_timer_the_mode_and_make_stats_the_adapter_uses() -> None:
    init = inspect.getsource(BenchmarkFixture.__init__)
    assert "self._timer = " in init and "self._mode = None" in init
    parameters = list(inspect.signature(BenchmarkFixture._make_stats).parameters)
    assert parameters == ["self", "iterations"]
    assert "self.stats = " in inspect.getsource(BenchmarkFixture._make_stats)


class Fixture:
    _mode = None

    def __init__(self) -> None:
        self.made: list[int] = []
        self.values: list[float] = []

    def _make_stats(self, iterations: int) -> "Fixture":
        self.made.append(iterations)
        return self

    def update(self, value: float) -> None:
        self.values.append(value)


def test_claim_marks_the_fixture_used_once_and_keep_rounds_hands_over_per_call_times() -> None:
    fixture = Fixture()
    claim(fixture)
    assert fixture._mode == MODE
    with pytest.raises(RuntimeError, match="already used"):
        claim(fixture)
    keep_rounds(fixture, [1.0, 2.0], calls_per_round=8)
    assert fixture.made == [8] and fixture.values == [1.0, 2.0]
