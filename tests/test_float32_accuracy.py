"""scratchnet's float32 gradients against the exact ones, within the bound that float32 rounding allows.

For random networks (depth L = 2..5, widths 1..32, every hidden σ and a mix, both costs, batches of 1..64),
inputs with |x| up to 100, and each W^[l] scaled by a gain of 1..16 (saturated hidden units) or, at the
output, up to 256 (logits in the thousands): every δ^[l], ∂C/∂W^[l], ∂C/∂b^[l] and ∂C/∂x is computed in
float32, and in float64 from the same float32 parameters and batch (the exact values, to 1e-16). Each
float32 entry must lie within scratchnet.checking.roundoff's bound E of its exact value:

    |q_float32 − q_exact| ≤ E[q],  entry by entry,

where E follows the equations with float32's unit roundoff u = 2^-24 (the module docstring gives its four
rules). The two that matter most, checkable by hand:
    a product summing n terms, (BP4) ∂C/∂W^[l] = δ^[l] (a^[l-1])ᵀ over the batch (n = m), or (W^[l])ᵀ δ^[l]:
        E = E_δ |a| + |δ| E_a + E_δ E_a + γ_n (|δ| + E_δ)(|a| + E_a),     γ_n = nu / (1 − nu);
    σ′ of a z off by E_z: with E′ = E_z + 8u(|z| + E_z) and k = 1 (sigmoid), 2 (tanh),
        E[σ′] = σ′(z) ((1 + 8u) e^{kE′} − 1) ≈ σ′(z) (k E_z + 8u(k|z| + 1)),
so σ′ must keep its relative precision where the unit saturates. With σ′ = σ(z)σ(−z) and sech² z the
textbook σ(z)(1 − σ(z)) and 1 − tanh² z reached 1e4 to 3e5 times the bound on the same cases, and
test_the_bound_catches_textbook_sigma_prime keeps that so.

The bound is tight: the worst ratio over the drawn cases must reach TIGHT = 0.2 (it is about 0.5, a network
without hidden layer; a bound 16 times looser, u = 2^-20, reaches 0.04 and fails). Confident outputs and
saturated output units (a logit margin s = 0..80 between the true class and the others) keep δ^[L]'s
relative precision entry by entry, in float32 (within the bound, and relative error ≤ 64u(1 + s)) and in
float64 (against 50-digit mpmath, relative error ≤ 64u₆₄(1 + s)): the naive p_y − 1 and a^[L] − 1 lose
every digit from s ≈ 17 in float32 (37 in float64).

The main test prints the worst ratio |error| / E per hidden σ and cost (shown even under capture).
EXAMPLES cases run in every profile (derandomized under CI).

    python -m pytest tests/test_float32_accuracy.py
"""

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import Network
from scratchnet.activations import sigmoid
from scratchnet.backend import to_numpy
from scratchnet.checking.central_differences import float64_copy
from scratchnet.checking.oracle import engine_gradients
from scratchnet.checking.roundoff import TINY, error_to_bound, float32_gradient_bounds

from conftest import NetworkCase, network_cases

EXAMPLES = max(500, settings().max_examples)  # at least 500 drawn cases, also under the ci profile (200)
HIDDEN_GAINS = (1, 4, 16)  # powers of two: scaling a float32 W^[l] by them is exact
OUTPUT_GAINS = (1, 16, 256)
TIGHT = 0.2  # the worst error / bound over the drawn cases reaches this: the bound is no looser than it must be
MARGINS = (0, 5, 10, 17, 20, 30, 40, 60, 80)  # logit margins s: p_y = 1 − 9e^{−s} and σ(±s/2) saturate


@st.composite
def scaled_cases(draw):
    """(NetworkCase in float32 with |x| ≤ 1, 10 or 100, the gain of each W^[l] for l = 2..L)."""
    case = draw(network_cases(dtypes=("float32",), x_scales=(1.0, 10.0, 100.0)))
    hidden = draw(st.lists(st.sampled_from(HIDDEN_GAINS), min_size=len(case.sizes) - 2,
                           max_size=len(case.sizes) - 2))
    return case, [*hidden, draw(st.sampled_from(OUTPUT_GAINS))]


def build(case, gains, xp=np):
    """(net, x, y) of the case, each W^[l] multiplied by its gain."""
    net, x, y = case.build(xp)
    for l, gain in zip(range(2, net.L + 1), gains, strict=True):
        net.W[l] *= gain
    return net, x, y


def error_ratios(net, x, y):
    """{quantity: max |float32 − exact| / E} for every δ^[l], dW[l], db[l] and the input gradient of net."""
    float32 = engine_gradients(net, x, y).rows()
    net64, y = float64_copy(net), to_numpy(y)
    exact = engine_gradients(net64, to_numpy(x).astype(np.float64), y).rows()
    bounds = float32_gradient_bounds(net64, y)
    return {name: error_to_bound(float32[name], exact[name], bound) for name, bound in bounds.items()}


def kind(case):
    """The row of the printed table: the hidden σ (or "mixed", or "no hidden layer") and the cost."""
    names = {case.activation} if isinstance(case.activation, str) else set(case.activation)
    hidden = "no hidden layer" if len(case.sizes) == 2 else names.pop() if len(names) == 1 else "mixed"
    return hidden, case.loss


def test_float32_gradients_are_within_the_rounding_bound(xp, capsys):
    worst, counts = {}, {}

    @settings(max_examples=EXAMPLES)
    @given(drawn=scaled_cases())
    def check(drawn):
        case, gains = drawn
        ratios = error_ratios(*build(case, gains, xp))
        name = max(ratios, key=ratios.get)
        row = kind(case)
        worst[row] = max(worst.get(row, 0.0), ratios[name])
        counts[row] = counts.get(row, 0) + 1
        assert ratios[name] <= 1, (f"{name} lies {ratios[name]:.3g} times its float32 bound from the exact "
                                   f"value: more than rounding explains")

    check()
    with capsys.disabled():
        print(f"\nfloat32 error / bound, worst of {sum(counts.values())} cases:")
        for row in sorted(worst):
            print(f"  {row[0]:<16} {row[1]:<14} {worst[row]:.3g}   ({counts[row]} cases)")
    assert max(worst.values()) >= TIGHT, (f"the bound is not tight: the worst error is {max(worst.values()):.3g} "
                                          f"of it, under TIGHT = {TIGHT}: a looser bound than rounding needs")


def textbook_sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)


def textbook_tanh_prime(z):
    t = np.tanh(z)
    return 1 - t * t


TEXTBOOK = {"sigmoid": textbook_sigmoid_prime, "tanh": textbook_tanh_prime}


@pytest.mark.parametrize("activation,loss,gains", [("sigmoid", "cross-entropy", [4, 1]),
                                                   ("tanh", "cross-entropy", [4, 1]),
                                                   ("relu", "quadratic", [1, 16])])
def test_the_bound_catches_textbook_sigma_prime(activation, loss, gains):
    """The test can fail: σ′ by cancellation, in the hidden layer or at the quadratic cost's sigmoid output,
    is far beyond the bound where units saturate; the stable σ′ on the same network is within it."""
    case = NetworkCase(sizes=[6, 8, 3], activation=activation, loss=loss, dtype="float32", m=16, seed=3, x_scale=10.0)
    net, x, y = build(case, gains)
    assert max(error_ratios(net, x, y).values()) <= 1
    for l, name in net.activation.items():
        if name in TEXTBOOK:
            net.sigma_prime[l] = TEXTBOOK[name]
    ratios = error_ratios(net, x, y)
    assert max(ratios.values()) > 100, ratios


def confident(loss, margin, dtype):
    """(net, x, y): a 6-8-10 tanh network whose true class 3 has a logit about `margin` above the others'
    (b^[L] += margin (onehot − ½)): a confident softmax, or sigmoid outputs saturated at ±margin/2."""
    net = Network([6, 8, 10], activation="tanh", loss=loss, dtype=dtype, seed=4)
    x = np.random.default_rng(4).uniform(-1, 1, (8, 6)).astype(dtype)
    y = np.full(8, 3)
    net.b[3] += (margin * (np.eye(10)[3] - 0.5)).astype(dtype)
    return net, x, y


def relative_errors(actual, exact, smallest):
    """|actual − exact| / |exact| entry by entry, over the entries with |exact| ≥ smallest (no underflow)."""
    actual, exact = np.asarray(actual, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    kept = np.abs(exact) >= smallest
    return np.abs(actual - exact)[kept] / np.abs(exact)[kept]


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
def test_confident_outputs_keep_relative_precision_in_float32(loss):
    """Every quantity within the bound, and δ^[L] within 64u(1 + s) relative, entry by entry, for s = 0..80."""
    u = 2.0 ** -24
    for margin in MARGINS:
        net, x, y = confident(loss, margin, "float32")
        ratios = error_ratios(net, x, y)
        name = max(ratios, key=ratios.get)
        assert ratios[name] <= 1, f"margin {margin}: {name} lies {ratios[name]:.3g} times its float32 bound off"
        float32 = engine_gradients(net, x, y).rows()["delta[3]"]
        exact = engine_gradients(float64_copy(net), x.astype(np.float64), y).rows()["delta[3]"]
        worst = relative_errors(float32, exact, 64 * TINY).max(initial=0.0)
        assert worst <= 64 * u * (1 + margin), f"margin {margin}: δ^[L] off by {worst:.3g} relative in float32"


def exact_delta_L(loss, z_L, y):
    """δ^[L] from the float64 z^[L] in 50-digit arithmetic (mpmath): (p − onehot)/m, or σ′(z)(σ(z) − onehot)/m."""
    mpmath.mp.dps = 50
    m, n = z_L.shape
    delta = np.zeros((m, n))
    for i in range(m):
        z = [mpmath.mpf(float(v)) for v in z_L[i]]
        if loss == "cross-entropy":
            Z = mpmath.fsum(mpmath.exp(v) for v in z)
            row = [mpmath.exp(v) / Z - (k == y[i]) for k, v in enumerate(z)]
        else:
            row = [mpmath.exp(-v) / (1 + mpmath.exp(-v)) ** 2 * (1 / (1 + mpmath.exp(-v)) - (k == y[i]))
                   for k, v in enumerate(z)]
        delta[i] = [float(d / m) for d in row]
    return delta


@pytest.mark.parametrize("loss", ["cross-entropy", "quadratic"])
def test_confident_outputs_keep_relative_precision_in_float64(loss):
    """δ^[L] of the float64 engine against 50 digits on its own z^[L]: within 64u₆₄(1 + s) relative, s = 0..80."""
    u = 2.0 ** -53
    for margin in MARGINS:
        net, x, y = confident(loss, margin, "float64")
        net.forward(x)
        _, delta_L = net.cost(y)
        worst = relative_errors(delta_L, exact_delta_L(loss, net.z[3], y), 1e-300).max(initial=0.0)
        assert worst <= 64 * u * (1 + margin), f"margin {margin}: δ^[L] off by {worst:.3g} relative in float64"
