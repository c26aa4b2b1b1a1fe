"""The rules every command applies to its settings before any work: scratchnet.run.request's seed rule and memory check.

Run: python -m pytest tests/test_config.py -q
"""

import pytest

from scratchnet.checks import SEED_MAX
from scratchnet.errors import UsageError
from scratchnet.run.config import TrainConfig
from scratchnet.run.request import check_model_fits, check_values
from scratchnet.shell.memory import check_memory, memory_needed


@pytest.mark.parametrize("seed", [0, 1, 2**32, SEED_MAX])
def test_a_seed_in_range_is_taken(seed):
    check_values(TrainConfig(seed=seed))


@pytest.mark.parametrize("seed", [-1, -(2**70), SEED_MAX + 1, 2**70, 1.5, "3", True, None])
def test_a_seed_out_of_range_is_one_rule(seed):
    with pytest.raises(UsageError, match=r"^--seed must be an integer in \[0, 2\*\*63 − 1\], got "):
        check_values(TrainConfig(seed=seed))


def test_the_tutorials_model_fits_and_its_estimate_is_sane():
    check_model_fits(TrainConfig())
    needed = memory_needed([784, 512, 512, 10], "float32", 64, state_copies=1, samples=70000)
    # 669,706 parameters × 4 bytes × 3 copies, activations of 64 × 1818 units × 4 arrays, 70,000 images
    assert needed == 4 * (3 * 669706 + 4 * 64 * 1818) + 70000 * 784 * 9


def test_a_model_that_cannot_fit_is_refused_with_the_figures():
    with pytest.raises(UsageError) as caught:
        check_model_fits(TrainConfig(hidden=(200000, 200000)))
    message = str(caught.value)
    assert message.startswith("--hidden 200000 200000: the model 784-200000-200000-10 in float32 with sgd, batch 64 "
                              "needs about 450 GiB of memory, and ")
    assert message.endswith("GiB is available: choose smaller --hidden widths")


def test_check_memory_compares_with_what_is_available():
    check_memory(2**20, "this", "do less", available=2**21)
    with pytest.raises(UsageError, match="^this needs about 2 GiB of memory, and 1 GiB is available: do less$"):
        check_memory(2**31, "this", "do less", available=2**30)
