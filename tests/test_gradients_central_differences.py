"""scratchnet's gradients against central differences (no torch), as properties over drawn networks, float64.

Entry by entry on small networks (L = 2..4, widths 1..8, batches 1..8): every δ^[l], dW[l], db[l] and
∂C/∂x against (C(θ + h) − C(θ − h)) / 2h with h = 1e-6, relative error ≤ 1e-7 (above the rounding floor
10 ε max(1, |C|) / h, see scratchnet.checking.central_differences.rounding_floor). ReLU networks only where every hidden
|z^[l]| > 1e-3, so that ±h never crosses the kink (hypothesis `assume`). On large layers (widths 32..256),
one random direction per layer: vᵀ dW[l] and vᵀ db[l] against (C(θ + hv) − C(θ − hv)) / 2h.
tests/test_finite_differences.py holds the fixed cases.

    python -m pytest tests/test_gradients_central_differences.py
"""

import numpy as np
from hypothesis import assume, given

from scratchnet.checking.central_differences import Direction, central_difference_along, cost_at, rounding_floor

from conftest import network_cases
from helpers import assert_matches_central_differences, away_from_kink

H = 1e-6
REL = 1e-7


@given(case=network_cases(layers=(2, 4), max_width=8, max_batch=8))
def test_gradients_match_central_differences(case):
    net, x, y = case.build()
    assume(away_from_kink(net, x))
    assert_matches_central_differences(net, x, y, rel=REL, h=H)


@given(case=network_cases(layers=(3, 4), min_width=32, max_width=256, max_batch=16, x_scales=(0.1, 1.0)))
def test_large_layers_along_random_directions(case):
    """Per layer: vᵀ∂C/∂W^[l] and vᵀ∂C/∂b^[l], v ~ N(0, 1) per entry, against the directional difference."""
    net, x, y = case.build()
    net.forward(x)
    dW, db = net.backward(net.cost(y)[1])
    floor = rounding_floor(cost_at(net, x, y), H)
    rng = np.random.default_rng(case.seed)
    for l in range(net.L, 1, -1):
        for quantity, name, g in (("W", f"dW[{l}]", dW[l]), ("b", f"db[{l}]", db[l])):
            v = rng.normal(size=g.shape)
            numeric, smooth = central_difference_along(net, x, y, Direction(quantity, l, v), H)
            assume(smooth)  # a ReLU unit changed side between θ − hv and θ + hv: C has a kink there
            analytic = float((v * g).sum())
            assert abs(analytic - numeric) <= REL * abs(numeric) + floor, \
                f"{name}: vᵀg = {analytic!r}, central difference {numeric!r}"
