"""Network used from the outside: built from given W^[l], b^[l], evaluated without touching the training cache,
and refusing, in one line naming the argument, what it cannot do (no torch here).

- Network.from_parameters takes dicts keyed by l = 2..L or lists; it copies, reads sizes and dtype off the
  arrays, and refuses each wrong shape, dtype or value naming the layer;
- infer, evaluate and predict leave a^[l], z^[l], δ^[l] and the masks as the last forward/backward left them,
  so cost(y) after predicting another batch is still this batch's; cost, backward and input_gradient refuse to
  run with no forward pass or on the forward pass of another batch;
- the constructor refuses float widths, bools, strings, widths < 1, p outside [0, 1), seeds < 0, …

    python -m pytest tests/test_network_api.py
"""

import numpy as np
import pytest

from scratchnet import Network
from scratchnet.errors import UsageError
from scratchnet.loop import evaluate

from helpers import assert_close

SIZES = [5, 4, 3]


def parameters(dtype="float64", sizes=SIZES, seed=0):
    """W^[l], b^[l] as dicts keyed by l, drawn with a seeded Generator."""
    rng = np.random.default_rng(seed)
    W = {l: rng.normal(size=(sizes[l - 1], sizes[l - 2])).astype(dtype) for l in range(2, len(sizes) + 1)}
    b = {l: rng.normal(size=sizes[l - 1]).astype(dtype) for l in range(2, len(sizes) + 1)}
    return W, b


def batch(m=6, n_1=SIZES[0], seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n_1)), rng.integers(0, SIZES[-1], m)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_parameters_holds_copies_of_exactly_the_given_arrays(dtype):
    W, b = parameters(dtype)
    net = Network.from_parameters(W, b, activation="tanh")
    assert (net.sizes, net.dtype, net.activation[2]) == (SIZES, np.dtype(dtype), "tanh")
    for l in (2, 3):
        np.testing.assert_array_equal(net.W[l], W[l], err_msg=f"W[{l}]")
        np.testing.assert_array_equal(net.b[l], b[l], err_msg=f"b[{l}]")
        assert net.W[l].dtype == dtype and not np.shares_memory(net.W[l], W[l]), f"W[{l}] must be a copy"
    x, _ = batch()
    expected = np.tanh(x.astype(dtype) @ W[2].T + b[2]) @ W[3].T + b[3]  # z^[3], the logits
    assert_close(net.infer(x.astype(dtype)), expected, "z^[3]", rtol=1e-5 if dtype == "float32" else 1e-13)


def test_lists_and_dicts_keyed_by_l_build_the_same_network():
    W, b = parameters()
    from_lists = Network.from_parameters([W[2], W[3]], (b[2], b[3]), loss="quadratic")
    from_dicts = Network.from_parameters(W, b, loss="quadratic")
    x, _ = batch()
    np.testing.assert_array_equal(from_lists.infer(x), from_dicts.infer(x))


def bad(layer, change):
    """parameters() with W or b of one layer replaced by change(array)."""
    W, b = parameters()
    given = W if layer[0] == "W" else b
    given[int(layer[1])] = change(given[int(layer[1])])
    return W, b


BAD_PARAMETERS = {
    "keys from 0": (lambda: ({0: parameters()[0][2], 1: parameters()[0][3]}, parameters()[1]),
                    r"W has keys \[0, 1\]: key the layers by their number l = 2..L"),
    "b missing a layer": (lambda: (parameters()[0], {2: parameters()[1][2]}), "W holds 2 layers and b 1"),
    "an array for the dict": (lambda: (parameters()[0][2], parameters()[1][2]), "W must be a dict .*; got a ndarray"),
    "empty": (lambda: ([], []), "W must be a dict .*; got an empty list"),
    "W^[3] not chained": (lambda: bad("W3", lambda a: a[:, :2]),
                          r"W\^\[3\] has shape \(3, 2\), but layer 2 has 4 units: W\^\[3\] must be \(3, 4\)"),
    "W^[2] transposed": (lambda: bad("W2", lambda a: a.T),
                         r"b\^\[2\] has shape \(4,\); W\^\[2\] is \(5, 4\), so b\^\[2\] must be \(5,\)"),
    "b as a column": (lambda: bad("b2", lambda a: a.reshape(-1, 1)), r"b\^\[2\] has shape \(4, 1\); it must be 1-D"),
    "W^[2] 1-D": (lambda: bad("W2", lambda a: a.ravel()), r"W\^\[2\] has shape \(20,\); it must be 2-D"),
    "no units": (lambda: bad("W2", lambda a: a[:0]), r"W\^\[2\] has shape \(0, 5\): every layer needs at least one"),
    "integers": (lambda: bad("W3", lambda a: a.astype(np.int64)), r"W\^\[3\] has dtype int64: give float32 or float64"),
    "float16": (lambda: bad("b3", lambda a: a.astype(np.float16)), r"b\^\[3\] has dtype float16"),
    "two dtypes": (lambda: bad("b3", lambda a: a.astype(np.float32)), r"b\^\[3\] is float32 but W\^\[2\] is float64"),
    "a nested list": (lambda: bad("W3", lambda a: a.tolist()), r"W\^\[3\] is a list, not an array"),
    "NaN": (lambda: bad("b2", lambda a: np.full_like(a, np.nan)), r"b\^\[2\] holds NaN or infinity"),
    "infinity": (lambda: bad("W3", lambda a: a / 0), r"W\^\[3\] holds NaN or infinity"),
}


@pytest.mark.parametrize("name", BAD_PARAMETERS)
def test_from_parameters_refuses_each_bad_shape_dtype_or_value_naming_the_layer(name):
    make, message = BAD_PARAMETERS[name]
    with np.errstate(divide="ignore"):
        W, b = make()
    with pytest.raises(UsageError, match=message) as refused:
        Network.from_parameters(W, b)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("kwargs,message", [
    ({"sizes": [5, 3.5, 3]}, r"layer 2's width n_2 = 3.5 is not a whole number"),
    ({"sizes": [5, 4.0, 3]}, r"n_2 = 4.0 is not a whole number"),
    ({"sizes": [5, True, 3]}, r"n_2 = True is not a whole number"),
    ({"sizes": [5, "4", 3]}, r"n_2 = '4' is not a whole number"),
    ({"sizes": [5, -4, 3]}, r"layer 2's width n_2 = -4 must be at least 1"),
    ({"sizes": [5, 4, 0]}, r"layer 3's width n_3 = 0 must be at least 1"),
    ({"sizes": "784"}, r"sizes must be a list of layer widths"),
    ({"sizes": 784}, r"sizes must be a list of layer widths"),
    ({"sizes": [784]}, r"need at least two layers"),
    ({"dropout": "0.2"}, r"dropout p must be in \[0, 1\), got '0.2'"),
    ({"dropout": True}, r"dropout p must be in \[0, 1\), got True"),
    ({"dropout": float("nan")}, r"dropout p must be in \[0, 1\), got nan"),
    ({"dtype": "floot32"}, r"dtype 'floot32' is not supported"),
    ({"dtype": True}, r"dtype True is not supported"),
    ({"seed": -1}, r"seed must be an integer ≥ 0, got -1"),
    ({"seed": 1.5}, r"seed must be an integer ≥ 0, got 1.5"),
    ({"activation": None}, r"activation must be a name or a list of names, got None"),
    ({"activation": ["relu", "relu"]}, r"2 activations given for 1 hidden layers"),
    ({"loss": None}, r"unknown loss None"),
    ({"rng": 3}, r"rng must be a numpy Generator"),
])
def test_the_constructor_refuses_what_the_cli_would(kwargs, message):
    with pytest.raises(UsageError, match=message):
        Network(**{"sizes": SIZES, **kwargs})


def test_numpy_integer_widths_are_widths():
    assert Network(np.array(SIZES)).sizes == SIZES


def trained_once(x, y):
    """A network after forward(x), cost(y), backward: its training cache holds x's batch."""
    net = Network(SIZES, dtype="float64", seed=2)
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, _ = net.backward(delta_L)
    return net, C, delta_L, dW


@pytest.mark.parametrize("reader", ["predict", "infer", "evaluate", "train.evaluate"])
def test_evaluating_another_batch_leaves_the_training_cache_alone(reader):
    x1, y1 = batch(6, seed=1)
    x2, y2 = batch(6, seed=2)  # the same batch size: only the cache itself can tell them apart
    net, C, delta_L, dW = trained_once(x1, y1)
    cache = {name: dict(getattr(net, name)) for name in ("a", "z", "delta", "mask")}
    calls = {"predict": lambda: net.predict(x2), "infer": lambda: net.infer(x2),
             "evaluate": lambda: net.evaluate(x2, y2), "train.evaluate": lambda: evaluate(net, x2, y2, 4)}
    calls[reader]()
    for name, before in cache.items():
        after = getattr(net, name)
        assert after.keys() == before.keys() and all(after[l] is before[l] for l in before), f"{reader} wrote {name}"
    C_again, delta_again = net.cost(y1)
    assert C_again == C, "cost(y1) after evaluating x2 must still be x1's"
    np.testing.assert_array_equal(net.backward(delta_again)[0][2], dW[2], err_msg="dW[2] after evaluating x2")


def test_evaluate_is_forward_then_cost_without_the_cache():
    x, y = batch()
    net = Network(SIZES, activation="sigmoid", loss="quadratic", dtype="float64", seed=5)
    C, a_L = net.evaluate(x, y)
    np.testing.assert_array_equal(a_L, net.forward(x))
    assert C == net.cost(y)[0]


def test_nothing_reads_a_forward_pass_that_did_not_happen():
    net = Network(SIZES)
    x, y = batch()
    net.predict(x.astype(np.float32))  # keeps nothing: still no forward pass
    for call, name in [(lambda: net.cost(y), r"cost\(y\)"), (lambda: net.backward(np.zeros((6, 3))), "backward")]:
        with pytest.raises(UsageError, match=f"{name}.* needs a forward pass first: call net.forward"):
            call()
    with pytest.raises(UsageError, match=r"input_gradient\(\) needs a backward pass"):
        net.input_gradient()


def test_cost_and_backward_refuse_another_batchs_forward_pass():
    x1, y1 = batch(6, seed=1)
    net, _, delta_L, _ = trained_once(x1, y1)
    net.forward(x1[:4])  # a forward pass of another batch, of 4 samples
    with pytest.raises(UsageError, match=r"cost\(y\): y has shape \(6,\) but the last forward pass was on 4 samples"):
        net.cost(y1)
    with pytest.raises(UsageError, match=r"backward: δ\^\[L\] has shape \(6, 3\) but z\^\[L\] of the last forward "
                                         r"pass is \(4, 3\)"):
        net.backward(delta_L)
    with pytest.raises(UsageError, match=r"input_gradient\(\) needs a backward pass on the last forward batch"):
        net.input_gradient()  # the δ^[2] of the batch before is not this batch's
    _, delta_4 = net.cost(y1[:4])
    net.backward(delta_4)
    assert net.input_gradient().shape == (4, SIZES[0])
