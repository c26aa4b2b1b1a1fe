"""The engine's side effects, for any network: none where none belong, and no shared memory.

backward (and input_gradient, cost) modify none of their inputs: δ^[L], x, W^[l], b^[l], the kept z^[l],
a^[l]. No gradient shares memory (np.shares_memory) with a parameter, with x, with what forward keeps, or
with another gradient. backward twice and forward twice give bit-identical answers, and another batch in
between changes nothing (nor overwrites the gradients already returned). SGD.step leaves the gradients
alone and its momentum buffers are copies.

    python -m pytest tests/test_hygiene.py
"""

import numpy as np
from hypothesis import given

from scratchnet import SGD
from scratchnet.backend import to_numpy

from conftest import network_cases

CASES = network_cases(max_width=16, max_batch=16)


def snapshot(net, x, delta_L=None):
    """NumPy copies of everything cost and backward may read."""
    arrays = {"x": x} if delta_L is None else {"x": x, "delta[L]": delta_L}
    for l in net.W:
        arrays |= {f"W[{l}]": net.W[l], f"b[{l}]": net.b[l], f"z[{l}]": net.z[l]}
    arrays |= {f"a[{l}]": net.a[l] for l in net.a}
    return {name: to_numpy(a).copy() for name, a in arrays.items()}


def assert_unchanged(before, net, x, delta_L, what):
    after = snapshot(net, x, delta_L if "delta[L]" in before else None)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=f"{what} modified {name}")


def run(net, x, y):
    net.forward(x)
    C, delta_L = net.cost(y)
    dW, db = net.backward(delta_L)
    return C, delta_L, dW, db


@given(case=CASES)
def test_backward_modifies_none_of_its_inputs(xp, case):
    net, x, y = case.build(xp)
    net.forward(x)
    y_before, before = to_numpy(y).copy(), snapshot(net, x)
    C, delta_L = net.cost(y)
    assert_unchanged(before, net, x, delta_L, "cost")
    np.testing.assert_array_equal(to_numpy(y), y_before, err_msg="cost modified y")
    before = snapshot(net, x, delta_L)
    net.backward(delta_L)
    assert_unchanged(before, net, x, delta_L, "backward")
    net.input_gradient()
    assert_unchanged(before, net, x, delta_L, "input_gradient")


@given(case=CASES)
def test_gradients_share_no_memory(xp, case):
    net, x, y = case.build(xp)
    _, delta_L, dW, db = run(net, x, y)
    grads = {f"dW[{l}]": dW[l] for l in dW} | {f"db[{l}]": db[l] for l in db}
    grads["input gradient"] = net.input_gradient()
    others = {"x": x, "delta[L]": delta_L}
    for l in net.W:
        others |= {f"W[{l}]": net.W[l], f"b[{l}]": net.b[l], f"z[{l}]": net.z[l]}
    others |= {f"a[{l}]": net.a[l] for l in net.a}
    names = list(grads)
    for i, name in enumerate(names):
        for other, array in [*others.items(), *((n, grads[n]) for n in names[i + 1:])]:
            assert not xp.shares_memory(grads[name], array), f"{name} shares memory with {other}"


@given(case=CASES)
def test_backward_twice_gives_the_same_answer(xp, case):
    net, x, y = case.build(xp)
    _, delta_L, dW, db = run(net, x, y)
    first = {l: (to_numpy(dW[l]).copy(), to_numpy(db[l]).copy()) for l in dW}
    first_dx = to_numpy(net.input_gradient()).copy()
    dW2, db2 = net.backward(delta_L)
    for l, (dW1, db1) in first.items():
        np.testing.assert_array_equal(to_numpy(dW2[l]), dW1, err_msg=f"dW[{l}] of the second backward")
        np.testing.assert_array_equal(to_numpy(db2[l]), db1, err_msg=f"db[{l}] of the second backward")
        np.testing.assert_array_equal(to_numpy(dW[l]), dW1, err_msg=f"dW[{l}] of the first backward, overwritten")
        np.testing.assert_array_equal(to_numpy(db[l]), db1, err_msg=f"db[{l}] of the first backward, overwritten")
    np.testing.assert_array_equal(to_numpy(net.input_gradient()), first_dx, err_msg="input gradient")


@given(case=CASES)
def test_forward_twice_gives_the_same_answer(xp, case):
    net, x, y = case.build(xp)
    C1, _, dW1, db1 = run(net, x, y)
    kept = {l: (to_numpy(dW1[l]).copy(), to_numpy(db1[l]).copy()) for l in dW1}
    a_L = to_numpy(net.forward(x)).copy()
    np.testing.assert_array_equal(to_numpy(net.forward(x)), a_L, err_msg="a[L] of the second forward")
    run(net, x[::-1] + 1, y[::-1])  # another batch in between, through backward
    for l, (dW0, db0) in kept.items():
        np.testing.assert_array_equal(to_numpy(dW1[l]), dW0, err_msg=f"dW[{l}] overwritten by the next batch")
        np.testing.assert_array_equal(to_numpy(db1[l]), db0, err_msg=f"db[{l}] overwritten by the next batch")
    C2, _, dW2, db2 = run(net, x, y)
    np.testing.assert_array_equal(to_numpy(net.a[net.L]), a_L, err_msg="a[L] after another batch")
    np.testing.assert_array_equal(to_numpy(C2), to_numpy(C1), err_msg="loss after another batch")
    for l in dW1:
        np.testing.assert_array_equal(to_numpy(dW2[l]), to_numpy(dW1[l]), err_msg=f"dW[{l}] after another batch")
        np.testing.assert_array_equal(to_numpy(db2[l]), to_numpy(db1[l]), err_msg=f"db[{l}] after another batch")


@given(case=CASES)
def test_sgd_step_leaves_gradients_alone(xp, case):
    net, x, y = case.build(xp)
    _, _, dW, db = run(net, x, y)
    before = {l: (to_numpy(dW[l]).copy(), to_numpy(db[l]).copy()) for l in dW}
    opt = SGD(net, lr=0.1, momentum=0.9)
    for step in (1, 2):
        opt.step(dW, db)
        for l, (dW0, db0) in before.items():
            np.testing.assert_array_equal(to_numpy(dW[l]), dW0, err_msg=f"step {step} modified dW[{l}]")
            np.testing.assert_array_equal(to_numpy(db[l]), db0, err_msg=f"step {step} modified db[{l}]")
            assert not xp.shares_memory(opt.v_W[l], dW[l]), f"momentum buffer of W[{l}] is dW[{l}]"
            assert not xp.shares_memory(opt.v_b[l], db[l]), f"momentum buffer of b[{l}] is db[{l}]"
