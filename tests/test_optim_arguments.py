"""The optimizers' constructors refuse what the command line refuses, in the same words, naming the argument.

Run: python -m pytest tests/test_optim_arguments.py -q
"""

import pytest

from scratchnet.errors import UsageError
from scratchnet.network import Network
from scratchnet.optim import SGD, Adam, AdamW


@pytest.fixture
def net():
    return Network([3, 2], dtype="float64", seed=0)


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": -1}, "SGD: lr must be a positive number, got -1"),
    ({"lr": 0}, "SGD: lr must be a positive number, got 0"),
    ({"lr": float("nan")}, "SGD: lr must be a positive number, got nan"),
    ({"lr": "0.1"}, "SGD: lr must be a positive number, got 0.1"),
    ({"lr": True}, "SGD: lr must be a positive number, got True"),
    ({"lr": 0.1, "momentum": 1.0}, "SGD: momentum must be in [0, 1), got 1.0"),
    ({"lr": 0.1, "momentum": -0.5}, "SGD: momentum must be in [0, 1), got -0.5"),
    ({"lr": 0.1, "weight_decay": -1e-4}, "SGD: weight_decay must be ≥ 0, got -0.0001"),
    ({"lr": 0.1, "nesterov": True}, "SGD: nesterov must be True or False, and True needs momentum > 0"),
    ({"lr": 0.1, "momentum": 0.9, "nesterov": "yes"}, "SGD: nesterov must be True or False"),
])
def test_sgd_refuses_bad_arguments(kwargs, message, net):
    with pytest.raises(UsageError) as caught:
        SGD(net, **kwargs)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("kwargs,message", [
    ({"lr": -1e-3}, "lr must be a positive number, got -0.001"),
    ({"lr": 1e-3, "eps": 0}, "eps must be a positive number, got 0 (ε keeps m̂/(√v̂ + ε) finite"),
    ({"lr": 1e-3, "eps": -1e-8}, "eps must be a positive number, got -1e-08"),
    ({"lr": 1e-3, "betas": (0.9, 1.0)}, "betas must be two numbers in [0, 1), got 0.9 1.0"),
    ({"lr": 1e-3, "betas": (0.9,)}, "betas must be two numbers in [0, 1), got 0.9"),
    ({"lr": 1e-3, "betas": 0.9}, "betas must be two numbers in [0, 1), got 0.9"),
    ({"lr": 1e-3, "weight_decay": float("inf")}, "weight_decay must be ≥ 0, got inf"),
])
def test_adam_refuses_bad_arguments(cls, kwargs, message, net):
    with pytest.raises(UsageError) as caught:
        cls(net, **kwargs)
    assert str(caught.value).startswith(f"{cls.__name__}: {message}")


def test_good_arguments_are_taken(net):
    SGD(net, lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
    Adam(net, lr=1, betas=[0, 0.5], eps=1e-300)
    AdamW(net, lr=1e-3, weight_decay=1e-2)
