"""The suite can fail around the engine too: bugs planted in the loop, the step, the optimizers, sampling, the
schedules, the fused step's choice and the checkpoint are each caught by the test named beside them.

Each bug is one string replacement, applied exactly once (an edit of the source makes this fail loudly,
never pass vacuously: then update the strings here) in one copy of the repository for the whole catalogue
(tests/planting.py). First the control: every named test passes on the unmodified copy, in one fresh pytest.
Then per bug the file is edited, its named test runs there in a fresh pytest (`-x -q -p no:cacheprovider`, the
`planted` hypothesis profile: 25 examples, derandomized), and the file is restored. The test must fail, and
its failure must name the quantity the bug makes wrong (`shows`): the printed loss line, "W[2] after step 1
(adam", the array "v_W2" of a resumed run. tests/test_suite_catches_bugs.py does the same for network.py and
losses.py, in-process.

    python -m pytest tests/test_suite_catches_loop_bugs.py
"""

import pytest

from planting import Plant, PlantedCopy, quantity

pytestmark = pytest.mark.slow

PRINTS = "tests/test_loop.py::test_scratchnet_train_prints_what_torch_ref_prints"
RESUMED = "tests/test_checkpoint.py::test_interrupted_and_resumed_equals_uninterrupted"
OPTIM = "tests/test_optimizers_torch.py::test_training_with_dropout_matches_torch_for_100_steps"  # one case, no search
LOSS_LINE = r"At index \d+ diff: 'loss: "   # the first printed line that differs is a loss line
STEPS_TAKEN = r"optimizer\.t is \d+, but epoch \d+ and batch \d+ mean \d+ steps taken"  # the resumed run's checkpoint


def quantity_like(pattern):
    """A name matching `pattern`, as an err_msg shows it on a line of its own."""
    return rf"(?m)^[E|\s]*{pattern}\s*$"
CATALOGUE = "tests/test_suite_catches_loop_bugs.py"


def bug(file, old, new, test, shows):
    return Plant(f"scratchnet/{file}", old, new, (test,), shows)


BUGS = {
    "the sampler's state not carried to the next epoch (every epoch repeats the first shuffle)": bug(
        "loop.py", "state.sampler_state = sampler.bit_generator.state", "pass", PRINTS, LOSS_LINE),
    "Avg loss divided by the samples, not the batches": bug(
        "loop.py", "float(loss) / n_batches", "float(loss) / len(x)",
        "tests/test_loop.py::test_evaluate_is_torch_refs_test", quantity("Avg loss")),
    "the epoch's train loss divided by the samples, not the batches": bug(
        "loop.py", "float(state.loss_sum) / state.batch", "float(state.loss_sum) / N", PRINTS, r"'train_loss': '"),
    "the printed loss taken from the previous step": bug(
        "loop.py", "control.print(loss_line(float(C), batch * m, N))\n            control.after_step()",
        "control.print(loss_line(float(locals().get('previous', C)), batch * m, N))\n"
        "            previous = float(C)\n            control.after_step()", PRINTS, LOSS_LINE),
    "a resumed epoch restarts at its first batch": bug(
        "loop.py", "range(state.batch, len(batches))", "range(0, len(batches))", f"{RESUMED}[float32-shuffle]",
        STEPS_TAKEN),
    "the schedule advanced twice per step (α_{2t} at step t)": bug(
        "optim.py", "return self.lr_at(self.t)", "return self.lr_at(2 * self.t)",
        "tests/test_schedules.py::test_a_run_steps_with_alpha_t", r"At index \d+ diff: \(\d+, "),
    "the fused step chosen for a model with momentum": bug(
        "fast/rules.py", "opt.momentum or opt.weight_decay", "opt.weight_decay",
        "tests/test_fused.py::test_models_it_cannot_compute_are_refused[<lambda>-plain SGD0]",  # SGD with momentum
        r"DID NOT RAISE"),
    "SGD momentum never decays, v_t = v_{t−1} + g_t": bug(
        "optim.py", "                v[l] *= self.momentum\n", "", f"{OPTIM}[nesterov]",
        r"W\[\d\] after step \d+ \(nesterov"),
    "Adam without its first bias correction": bug(
        "optim.py", "bias_correction1 = 1 - self.beta1 ** self.t", "bias_correction1 = 1", f"{OPTIM}[adam]",
        r"W\[\d\] after step 1 \(adam"),
    "sampling with replacement never draws index N − 1": bug(
        "sampling.py", "yield rng.integers(0, N, size=m)", "yield rng.integers(0, N - 1, size=m)",
        "tests/test_engine.py::test_sampling_with_replacement_draws_every_index_alike",
        r"AssertionError: array\(\[[\d,\s]+\b0\]\)"),  # the counts of the indices, N − 1's is 0
    "cosine schedule over T/2 instead of T": bug(
        "schedules.py", "math.cos(math.pi * t / self.T)", "math.cos(2 * math.pi * t / self.T)",
        "tests/test_schedules.py::test_cosine_is_cosine_annealing_lr", quantity_like(r"CosineAnnealingLR α=\S+ T=\d+")),
    "the step count t not restored on resume (the schedule and Adam's bias correction restart)": bug(
        "run/checkpoint.py", 'opt.t = meta["optimizer"]["t"]', "opt.t = 0", f"{RESUMED}[adamw-dropout-onecycle]",
        STEPS_TAKEN),
    "resume restores W but not the optimizer's buffers": bug(
        "run/checkpoint.py", 'buffer[l] = xp.asarray(arrays[f"{name}{l}"])', "pass", f"{RESUMED}[float32-shuffle]",
        quantity("W2")),
}


@pytest.fixture(scope="module")
def copy(tmp_path_factory, mnist_dir):
    """One copy of the repository for the whole catalogue, its named tests passing there first (the control)."""
    planted = PlantedCopy(tmp_path_factory.mktemp("loop"))
    planted.control(BUGS.values())
    return planted


@pytest.mark.parametrize("bug", BUGS.values(), ids=BUGS.keys())
def test_the_named_test_catches_the_bug(bug, copy):
    copy.assert_caught(bug, CATALOGUE)


def test_a_stale_bug_string_fails_loudly(copy):
    stale = Plant("scratchnet/loop.py", "this line is not in the loop", "", (PRINTS,), "")
    with pytest.raises(AssertionError, match="planted bug not applied"), copy.planted(stale, CATALOGUE):
        pass
