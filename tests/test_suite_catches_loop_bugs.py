"""The suite can fail around the engine too: bugs planted in optim.py, sampling.py, schedules.py, the
checkpoint, the resume and the training loop are each caught by the test named beside them.

Each bug is one string replacement, applied exactly once (an edit of the source makes this fail loudly,
never pass vacuously: then update the strings here) in a copy of the repository; the named test runs there in
a fresh pytest and must fail. tests/test_suite_catches_bugs.py does the same for network.py and losses.py,
in-process. The unmodified sources pass those tests in the suite itself.

    python -m pytest tests/test_suite_catches_loop_bugs.py
"""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@dataclass
class Bug:
    file: str   # under scratchnet/
    old: str    # the correct code, found exactly once
    new: str    # the bug
    test: str   # the test that must catch it


BUGS = {
    "the sampler's state not carried to the next epoch (every epoch repeats the first shuffle)": Bug(
        "loop.py", "state.sampler_state = sampler.bit_generator.state", "pass",
        "tests/test_loop.py::test_scratchnet_train_prints_what_torch_ref_prints"),
    "Avg loss divided by the samples, not the batches": Bug(
        "loop.py", "float(loss) / n_batches", "float(loss) / len(x)",
        "tests/test_loop.py::test_evaluate_is_torch_refs_test"),
    "the epoch's train loss divided by the samples, not the batches": Bug(
        "loop.py", "float(state.loss_sum) / state.step", "float(state.loss_sum) / N",
        "tests/test_loop.py::test_scratchnet_train_prints_what_torch_ref_prints"),
    "a resumed epoch restarts at its first batch": Bug(
        "loop.py", "range(state.step, len(batches))", "range(0, len(batches))",
        "tests/test_checkpoint.py::test_interrupted_and_resumed_equals_uninterrupted[float32-shuffle]"),
    "SGD momentum never decays, v_t = v_{t−1} + g_t": Bug(
        "optim.py", "                v[l] *= self.momentum\n", "",
        "tests/test_optimizers_torch.py::test_100_steps_match_torch_optim"),
    "Adam without its first bias correction": Bug(
        "optim.py", "bias_correction1 = 1 - self.beta1 ** self.t", "bias_correction1 = 1",
        "tests/test_optimizers_torch.py::test_100_steps_match_torch_optim"),
    "sampling with replacement never draws index N − 1": Bug(
        "sampling.py", "yield rng.integers(0, N, size=m)", "yield rng.integers(0, N - 1, size=m)",
        "tests/test_engine.py::test_sampling_with_replacement_draws_every_index_alike"),
    "cosine schedule over T/2 instead of T": Bug(
        "schedules.py", "math.cos(math.pi * t / self.T)", "math.cos(2 * math.pi * t / self.T)",
        "tests/test_schedules.py::test_cosine_is_cosine_annealing_lr"),
    "the step count t not restored on resume (the schedule and Adam's bias correction restart)": Bug(
        "run/checkpoint.py", 'opt.t = meta["optimizer"]["t"]', "opt.t = 0",
        "tests/test_checkpoint.py::test_interrupted_and_resumed_equals_uninterrupted[adamw-dropout-onecycle]"),
}


def planted_copy(bug, tmp_path):
    """The repository's code and tests, copied under tmp_path with `bug` planted; data/ linked, not copied."""
    copy = tmp_path / "repo"
    for folder in ("scratchnet", "torch_ref", "tests", "benchmarks"):
        shutil.copytree(REPO / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    os.symlink((REPO / "data").resolve(), copy / "data")
    path = copy / "scratchnet" / bug.file
    source = path.read_text(encoding="utf-8")
    count = source.count(bug.old)
    assert count == 1, (f"planted bug not applied: {bug.old!r} occurs {count} times in scratchnet/{bug.file}; "
                        "the source changed, so update this bug's strings in tests/test_suite_catches_loop_bugs.py")
    path.write_text(source.replace(bug.old, bug.new), encoding="utf-8")
    return copy


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_the_named_test_catches_the_bug(bug, mnist_dir, tmp_path):
    copy = planted_copy(bug, tmp_path)
    # The dev profile (25 examples): a planted bug must show there too, and CI need not shrink 200 of them.
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", bug.test],
                          cwd=copy, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(copy), "HYPOTHESIS_PROFILE": "dev"})
    assert done.returncode == 1 and " failed" in done.stdout, (
        f"{bug.test} did not fail with the bug planted (exit {done.returncode}):\n{done.stdout[-2000:]}")


def test_a_stale_bug_string_fails_loudly(tmp_path):
    with pytest.raises(AssertionError, match="planted bug not applied"):
        planted_copy(Bug("loop.py", "this line is not in the loop", "", ""), tmp_path)
