"""tools/membw_vs_numpy: the interleaving and the verdict, on scripted calls (no timing is asserted)."""

from tools.membw_vs_numpy import NUMPY, interleaved, rates, verdicts


def test_the_calls_take_turns_after_one_untimed_call_each() -> None:
    order: list[str] = []
    ticks = iter(range(100))
    calls = {NUMPY: lambda: order.append("A"), "torch copy": lambda: order.append("B")}
    times = interleaved(calls, passes=3, clock=lambda: float(next(ticks)))
    assert order == ["A", "B", "A", "B", "A", "B", "A", "B"]
    assert times == {NUMPY: [1.0, 1.0, 1.0], "torch copy": [1.0, 1.0, 1.0]}


def test_a_kernel_whose_memory_traffic_is_more_than_the_tolerance_below_numpy_is_flagged() -> None:
    # copy's ordinary stores move 1.5x the counted bytes, triad's 4/3x (write-allocate): the check compares traffic
    gbs = rates(
        {NUMPY: [1.0, 2.0, 1.0], "tf copy": [1.5, 1.6, 1.5], "tf triad": [1.6, 1.6, 1.6]},
        {NUMPY: 10e9, "tf copy": 10e9, "tf triad": 10e9},
    )
    found = {name: (round(ratio, 3), round(traffic, 3), ok) for name, _, ratio, traffic, ok in verdicts(gbs, 0.10)}
    assert found == {NUMPY: (1.0, 1.0, True), "tf copy": (0.667, 1.0, True), "tf triad": (0.625, 0.833, False)}
