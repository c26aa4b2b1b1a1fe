"""What a Network is given, checked before any arithmetic: each refusal is one line naming the argument.

network.py keeps the equations; the functions here only say no. They check the constructor's arguments
(layer sizes, dropout p, dtype), the parameters handed to `Network.from_parameters`, input batches, and the
order forward → cost → backward → input_gradient on one batch: the training cache (a^[l], z^[l], δ^[l]) that
those steps share and that evaluation (`infer`, `evaluate`, `predict`) never writes.
"""

import math
import numbers

import numpy as np

from scratchnet.activations import HIDDEN_ACTIVATIONS
from scratchnet.backend import get_xp
from scratchnet.errors import UsageError
from scratchnet.losses import LOSSES

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def check_sizes(sizes):
    """[n_1, …, n_L] as Python ints, or a UsageError naming the first width that is not an integer ≥ 1."""
    if isinstance(sizes, str) or not np.iterable(sizes):
        raise UsageError(f"sizes must be a list of layer widths [n_1, …, n_L], e.g. [784, 512, 10]; got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise UsageError(f"sizes {sizes} need at least two layers, the input and the output, e.g. [784, 10]")
    for l, n in enumerate(sizes, start=1):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise UsageError(f"sizes: layer {l}'s width n_{l} = {n!r} is not a whole number; widths are integers ≥ 1")
        if n < 1:
            raise UsageError(f"sizes: layer {l}'s width n_{l} = {n} must be at least 1")
    return [int(n) for n in sizes]


def check_loss(loss):
    """The cost by name: "cross-entropy" or "quadratic"."""
    if not isinstance(loss, str) or loss not in LOSSES:
        raise UsageError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")


def check_activations(activation, n_hidden):
    """σ of each of the n_hidden hidden layers by name, from one name or from a list of one name per layer."""
    if not isinstance(activation, (str, list, tuple)):
        raise UsageError(f"activation must be a name or a list of names, got {activation!r}")
    hidden = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(hidden) != n_hidden:
        raise UsageError(f"{len(hidden)} activations given for {n_hidden} hidden layers")
    for name in hidden:
        if not isinstance(name, str) or name not in HIDDEN_ACTIVATIONS:
            raise UsageError(f"unknown activation {name!r}: use one of {', '.join(HIDDEN_ACTIVATIONS)}")
    return hidden


def check_dtype(dtype):
    """float32 or float64 as a numpy dtype, or a UsageError."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if isinstance(dtype, bool) or checked is None or checked not in FLOAT_DTYPES:  # (dtype('float64') == None)
        raise UsageError(f"dtype {dtype!r} is not supported: use float32 or float64")
    return checked


def check_dropout(p):
    """p, the probability of dropping a hidden unit, a number in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (math.isfinite(p) and 0 <= p < 1):
        raise UsageError(f"dropout p must be in [0, 1), got {p!r}")


SEED_MAX = 2**63 - 1  # the one seed rule of every command and of Network: what NumPy and torch.manual_seed both take


def check_seed(seed, rng=None, name="seed"):
    """seed: an integer in [0, 2**63 − 1] (numpy's default_rng would take many things, and a float only to fail
    later; torch.manual_seed nothing above 2**64). `name` is what the message calls it (the CLI: "--seed")."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= SEED_MAX:
        raise UsageError(f"{name} must be an integer in [0, 2**63 − 1], got {seed!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise UsageError(f"rng must be a numpy Generator (np.random.default_rng()) or None, got {type(rng).__name__}")


def check_parameters(W, b):
    """Given W^[l], b^[l] as dicts keyed by l = 2..L or as lists [W^[2], …, W^[L]]: dicts keyed by l.

    Each must be a finite float32 or float64 array of one array module and one dtype for all layers, W^[l] of
    shape (n_l, n_{l−1}) with n_{l−1} the rows of W^[l−1], b^[l] of shape (n_l,). A UsageError names the layer.
    """
    W, b = layer_dict(W, "W"), layer_dict(b, "b")
    if len(W) != len(b):
        raise UsageError(f"W holds {len(W)} layers and b {len(b)}: give one b^[l] for each W^[l]")
    for l in range(2, len(W) + 2):
        check_array(f"W^[{l}]", W[l], 2, W[2])
        check_array(f"b^[{l}]", b[l], 1, W[2])
        n_l, n_prev = W[l].shape
        if l > 2 and n_prev != W[l - 1].shape[0]:
            raise UsageError(f"W^[{l}] has shape {W[l].shape}, but layer {l - 1} has {W[l - 1].shape[0]} units: "
                             f"W^[{l}] must be ({n_l}, {W[l - 1].shape[0]}), the layout (n_l, n_(l-1)) of nn.Linear")
        if b[l].shape != (n_l,):
            raise UsageError(f"b^[{l}] has shape {b[l].shape}; W^[{l}] is {W[l].shape}, so b^[{l}] must be ({n_l},)")
    return W, b


def layer_dict(given, name):
    """{l: array} for l = 2..L from a dict keyed by the layer number or from a list whose first entry is layer 2."""
    if isinstance(given, dict):
        if not given or set(given) != set(range(2, len(given) + 2)):
            raise UsageError(f"{name} has keys {list(given)}: key the layers by their number l = 2..L (layer 1 is "
                             f"the input and has no {name}), or pass a list [{name}^[2], …, {name}^[L]]")
        return dict(given)
    if isinstance(given, (list, tuple)) and given:
        return dict(enumerate(given, start=2))
    got = "an empty list" if isinstance(given, (list, tuple)) else f"a {type(given).__name__}"
    raise UsageError(f"{name} must be a dict keyed by the layer number l = 2..L or a list "
                     f"[{name}^[2], …, {name}^[L]]; got {got}")


def check_array(what, array, ndim, first):
    """One given parameter: an array of `first`'s module and dtype (float32 or float64), ndim axes, finite."""
    xp = get_xp(array)
    if not isinstance(array, xp.ndarray):
        raise UsageError(f"{what} is a {type(array).__name__}, not an array: pass numpy (or cupy) arrays "
                         "(torch's tensors go through torch_ref.bridge)")
    if array.dtype not in FLOAT_DTYPES:
        raise UsageError(f"{what} has dtype {array.dtype}: give float32 or float64 arrays")
    if array.dtype != first.dtype:
        raise UsageError(f"{what} is {array.dtype} but W^[2] is {first.dtype}: give every W^[l], b^[l] one dtype")
    if xp is not get_xp(first):
        raise UsageError(f"{what} is a {xp.__name__} array but W^[2] a {get_xp(first).__name__} array: "
                         "keep every parameter on one device")
    if array.ndim != ndim:
        expected = "2-D, (n_l, n_(l-1))" if ndim == 2 else "1-D, (n_l,)"
        raise UsageError(f"{what} has shape {array.shape}; it must be {expected}")
    if 0 in array.shape:
        raise UsageError(f"{what} has shape {array.shape}: every layer needs at least one unit")
    if not xp.isfinite(array).all():
        raise UsageError(f"{what} holds NaN or infinity")


def check_input(x, n_1):
    """x = a^[1]: a finite (m, n_1) array of real numbers (complex x is refused: σ = ReLU orders its inputs)."""
    if np.ndim(x) != 2 or np.shape(x)[1] != n_1:
        raise UsageError(f"input has shape {np.shape(x)}; this network takes (m, {n_1})")
    kind = getattr(x, "dtype", np.asarray(x).dtype).kind
    if kind not in "fiub":
        raise UsageError(f"input has dtype {getattr(x, 'dtype', np.asarray(x).dtype)}: give real numbers "
                         "(float32 or float64, as the network's W); complex or text inputs are refused")
    if not get_xp(x).isfinite(x).all():
        raise UsageError("input holds NaN or infinity: clean or impute the data before training on it")


def forward_batch_size(a, caller):
    """m, the batch of the forward pass whose a^[l] the cache holds; a UsageError when no forward pass ran."""
    if 1 not in a:
        raise UsageError(f"{caller} needs a forward pass first: call net.forward(x) on the batch "
                         "(infer, evaluate and predict keep nothing for it)")
    return len(a[1])


def check_labels_fit(a, y):
    """cost(y): y must be an array (not a list: np.asarray(y) first) with one label per row of the last forward
    batch, not another batch's."""
    m = forward_batch_size(a, "cost(y)")
    if not hasattr(y, "dtype"):
        raise UsageError(f"cost(y): y is a {type(y).__name__}, not an array: pass np.asarray(y) (an array on the "
                         "network's device, integer labels or one-hot rows)")
    if np.shape(y)[:1] != (m,):
        raise UsageError(f"cost(y): y has shape {np.shape(y)} but the last forward pass was on {m} samples: "
                         "call net.forward(x) on the batch these labels belong to")


def check_delta_fits(a, z, delta_L):
    """backward(δ^[L]): δ^[L] must have the shape of z^[L] of the last forward pass."""
    forward_batch_size(a, "backward(delta_L)")
    L = max(z)
    if np.shape(delta_L) != z[L].shape:
        raise UsageError(f"backward: δ^[L] has shape {np.shape(delta_L)} but z^[L] of the last forward pass is "
                         f"{z[L].shape}: pass the δ^[L] that cost(y) returned for that batch")


def check_backward_done(delta):
    """input_gradient(): it reads δ^[2], which a backward pass on the last forward batch leaves."""
    if 2 not in delta:
        raise UsageError("input_gradient() needs a backward pass on the last forward batch: "
                         "call net.backward(delta_L) after net.forward(x) and net.cost(y)")


def check_gradients(dW, db, W):
    """An optimizer's step(dW, db): ∂C/∂W^[l] and ∂C/∂b^[l] for every layer l = 2..L, so that none is left behind."""
    if set(dW) != set(W) or set(db) != set(W):
        raise UsageError(f"step(dW, db) needs the gradients of every layer {sorted(W)}; got dW for {sorted(dW)} "
                         f"and db for {sorted(db)} (a layer left out would not be updated)")
