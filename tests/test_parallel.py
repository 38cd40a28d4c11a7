"""The stages' process helpers (cocapp.stages.common): results in task order, closures without
pickling, the same results with one process or several."""

import os

import pytest

from cocapp.stages.common import BackgroundMap, parallel_map, run_thunks


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


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_background_map_equals_the_tasks_run_in_order(workers):
    tasks = list(range(17))
    with BackgroundMap(_square_and_pid, tasks, workers) as background:
        busy = sum(x * x for x in range(10**5))  # this process's own work meanwhile
        out = background.results()
    assert busy > 0
    assert (
        [v for v, _ in out]
        == [x * x for x in tasks]
        == [v for v, _ in parallel_map(_square_and_pid, tasks, 1)]
    )
    pids = {p for _, p in out}
    assert len(pids) <= workers  # at most `workers` processes, this one included
    if workers == 1:
        assert pids == {os.getpid()}


def _fail_on_three(x):
    if x == 3:
        raise ValueError("task 3 failed")
    return x


def test_background_map_failures_reach_the_caller_and_leaving_early_ends_the_workers():
    with pytest.raises(ValueError, match="task 3 failed"):
        with BackgroundMap(_fail_on_three, list(range(8)), 2) as background:
            background.results()
    with pytest.raises(KeyError):  # an error of the caller's own work: the workers stop, no hang
        with BackgroundMap(_square_and_pid, list(range(8)), 2):
            raise KeyError("the caller's own error")
    with BackgroundMap(_square_and_pid, [], 2) as background:
        assert background.results() == []
