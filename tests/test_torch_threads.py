"""--threads on torch_ref.train and torch_ref.compare: the same meaning as on scratchnet.train.

TorchThreads against torch.get_num_threads (N, auto = all the cores but one, the count restored after);
torch_ref.train's training loop run under the count asked for; torch_ref.compare's engines both on it;
a bad count refused in one line, exit 2, as scratchnet.train refuses it.

    python -m pytest tests/test_torch_threads.py
"""

import re

import pytest
import torch
from threadpoolctl import threadpool_info

import torch_ref.compare
import torch_ref.train
from scratchnet.fast.threads import cores
from scratchnet.run.config import TrainConfig
from scratchnet.shell.console import run_cli
from torch_ref.threads import TorchThreads


@pytest.mark.parametrize("setting, expected", [(1, 1), ("1", 1), ("auto", max(cores() - 1, 1))])
def test_torch_threads_sets_the_count_and_restores_it(setting, expected):
    before = torch.get_num_threads()
    with TorchThreads(setting):
        assert torch.get_num_threads() == expected
    assert torch.get_num_threads() == before


def test_train_runs_its_loop_on_the_threads_asked_for(mnist_dir, monkeypatch):
    seen = []
    plain_train = torch_ref.train.train

    def train(*args):
        seen.append(torch.get_num_threads())
        return plain_train(*args)

    monkeypatch.setattr(torch_ref.train, "train", train)
    before = torch.get_num_threads()
    cfg = TrainConfig(data_dir=mnist_dir, epochs=1, train_size=128, test_size=64, threads="1")
    torch_ref.train.main(cfg)
    assert seen == [1]
    assert torch.get_num_threads() == before


def test_compare_runs_both_engines_on_the_threads_asked_for(mnist_dir, monkeypatch):
    seen = set()
    plain_step = torch_ref.compare.train_step

    def train_step(*args):
        blas = tuple(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        seen.add((torch.get_num_threads(), blas))
        return plain_step(*args)

    monkeypatch.setattr(torch_ref.compare, "train_step", train_step)
    cfg = TrainConfig(data_dir=mnist_dir, epochs=1, train_size=128, test_size=64, dtype="float64", threads="1")
    torch_ref.compare.main(cfg, steps=2)
    assert seen == {(1, (1,) * len(next(iter(seen))[1]))}


@pytest.mark.parametrize("cli", [torch_ref.train.cli, torch_ref.compare.cli], ids=["train", "compare"])
def test_a_bad_thread_count_is_one_line_exit_2(cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(cli, ["--threads", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    said = r"error: --threads 0: give a positive number of BLAS threads \(below 2\*\*31\), or auto\n"
    assert re.fullmatch(said, err), err
