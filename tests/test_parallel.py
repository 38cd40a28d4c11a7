"""The stages' process helpers (cocapp.stages.common): results in task order, closures without
pickling, the same results with one process or several."""

import os

import pytest

from cocapp.stages.common import parallel_map, run_thunks


def _square_and_pid(x):
    return x * x, os.getpid()


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_parallel_map_keeps_task_order(workers):
    out = parallel_map(_square_and_pid, list(range(13)), workers)
    assert [v for v, _ in out] == [x * x for x in range(13)]
    pids = {p for _, p in out}
    if workers == 1:
        assert pids == {os.getpid()}  # one worker: this process, no pool
    else:
        assert os.getpid() not in pids  # the work ran in forked workers


def test_run_thunks_calls_closures_in_workers_and_forgets_them():
    data = {"a": 1, "b": 2}
    thunks = [lambda k=k: (k, data[k] * 10, os.getpid()) for k in ("b", "a", "b")]  # lambdas do not pickle
    out = run_thunks(thunks, 2)
    assert [(k, v) for k, v, _ in out] == [("b", 20), ("a", 10), ("b", 20)]
    assert all(pid != os.getpid() for *_, pid in out)
    assert run_thunks([], 2) == []
    from cocapp.stages import common

    assert common._THUNKS == []  # nothing kept alive after the call


def test_a_failing_task_raises_in_the_caller():
    def boom():
        raise ValueError("file x.csv: column 'p', row 3: 'half' is not a number")

    with pytest.raises(ValueError, match="row 3: 'half'"):
        run_thunks([lambda: 1, boom], 2)
