"""The default run the README quotes against what `python -m scratchnet.train` prints (slow: five epochs on MNIST).

The README quotes the run in a code block that starts with "Epoch 1", "..." standing for lines left out. The
test runs scratchnet.train.main with the default TrainConfig, in-process, on the real MNIST in data/, and finds
each quoted stretch of lines, in order, in what it printed. The float32 sums of a matrix product are rounded in
an order that depends on the BLAS kernel and its thread count, and the README names those of its figures: with
them every quoted figure must be the printed one exactly; with others, each may differ by that rounding
(relative 1e-5, at least one unit of its last digit), and the text around them not at all. On stderr the run
prints nothing but, at most, the `training step: …` line that the README explains.

    python -m pytest tests/test_readme_run.py
"""

import re

import pytest
from threadpoolctl import threadpool_info

from scratchnet.fast.threads import thread_count
from scratchnet.run.config import TrainConfig
from scratchnet.train import main

from conftest import REPO

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def quoted_run(readme):
    """The quoted block as stretches of consecutive lines, split where the README writes "..."."""
    blocks = readme.split("```")[1::2]  # the insides of the fenced blocks, their language first
    [block] = [b for b in blocks if b.startswith("\nEpoch 1\n")]
    stretches = [[]]
    for line in block.splitlines()[1:]:
        if line.strip() == "...":
            stretches.append([])
        else:
            stretches[-1].append(line.rstrip())  # editors strip the trailing blanks that print() writes
    return [s for s in stretches if s]


def readme_kernel(readme):
    """The OpenBLAS kernel and thread count the README says its figures were printed with."""
    found = re.search(r"NumPy's OpenBLAS with its (\w+) kernel and (\d+) threads?", readme)
    assert found, "the README must name its run's BLAS: \"NumPy's OpenBLAS with its … kernel and … threads\""
    return found[1], int(found[2])


def numpy_kernel():
    """The kernel of NumPy's OpenBLAS here and the thread count the default run gives it (--threads auto), or
    None for another BLAS."""
    return next(((pool.get("architecture"), thread_count("auto")) for pool in threadpool_info()
                 if pool.get("internal_api") == "openblas" and "numpy" in pool.get("filepath", "")), None)


def same_line(quoted, printed, exact):
    """Whether a quoted line is the printed one: exactly, or with each figure within its rounding."""
    if exact or quoted == printed:
        return quoted == printed
    if NUMBER.split(quoted) != NUMBER.split(printed):
        return False
    for q, p in zip(NUMBER.findall(quoted), NUMBER.findall(printed), strict=True):
        unit = 10.0 ** -len(q.partition(".")[2]) if "." in q else 0  # whole numbers (counts) exactly
        if abs(float(q) - float(p)) > max(1e-5 * abs(float(q)), unit):
            return False
    return True


def find_in_order(stretches, lines, exact):
    """The first stretch that is not found after the one before it, with where the search started; None if all are."""
    at = 0
    for stretch in stretches:
        starts = [i for i in range(at, len(lines) - len(stretch) + 1)
                  if all(same_line(q, p, exact) for q, p in zip(stretch, lines[i:i + len(stretch)], strict=True))]
        if not starts:
            return stretch, at
        at = starts[0] + len(stretch)
    return None


@pytest.mark.slow
def test_the_readme_quotes_what_the_default_run_prints(mnist_dir, capsys):
    readme = (REPO / "README.md").read_text()
    stretches = quoted_run(readme)
    assert stretches[0][0] == "Epoch 1" and stretches[-1][-1] == "Done!", "the quoted run lost its first or last line"
    main(TrainConfig(data_dir=mnist_dir))
    captured = capsys.readouterr()
    printed = [line.rstrip() for line in captured.out.splitlines()]
    for line in filter(str.strip, captured.err.splitlines()):  # the README says what its one stderr line means
        assert line.startswith("training step: ") and ": ".join(line.split(": ")[:2]) + ":" in readme, line
    kernel, exact = numpy_kernel(), numpy_kernel() == readme_kernel(readme)
    missing = find_in_order(stretches, printed, exact)
    if missing is not None:
        stretch, at = missing
        how = "exactly" if exact else f"within rounding (NumPy's BLAS here: {kernel}, kernel and threads)"
        pytest.fail(f"the README quotes lines the run did not print {how}, after printed line {at}:\n"
                    + "\n".join(stretch) + "\n--- the run printed:\n" + "\n".join(printed))
