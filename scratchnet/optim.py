"""Optimizers θ ← θ − α · (a step direction), for every W^[l], b^[l]: SGD, Adam and AdamW, torch.optim's rules.

Each one updates a Network's parameters in place with `step(dW, db)`, keeps its state in dicts keyed by
the layer number l, and owns two things every training step reads (Optimizer, below): the step count t, and
α_t, the learning rate of step t. `lr` is α itself, or a schedule (scratchnet.schedules) that gives α_t for
each t, as optax takes a schedule for its learning rate; the reference step and the fused steps alike read
α_t through `count_step()`, which also counts the step. `buffers()` names the state arrays, for checkpoints.
A hyperparameter out of range is refused when the optimizer is made, with the same rules and words as the
command line's flags (`check_hyperparameters`).
"""

import math
import numbers

from scratchnet.backend import get_xp
from scratchnet.checks import check_gradients
from scratchnet.errors import UsageError


def check_hyperparameters(lr, momentum=0.0, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8, name=str):
    """Raise UsageError naming the first value out of range: α > 0, μ in [0, 1), λ ≥ 0, β₁, β₂ in [0, 1), ε > 0.

    `name` turns an argument's name into what the message calls it: the command line passes its flags
    (name("weight_decay") → "--weight-decay"), the optimizers their class ("SGD: lr").
    """
    if not (_finite(lr) and lr > 0):
        raise UsageError(f"{name('lr')} must be a positive number, got {lr}")
    if not (_finite(momentum) and 0 <= momentum < 1):
        raise UsageError(f"{name('momentum')} must be in [0, 1), got {momentum}")
    if not (_finite(weight_decay) and weight_decay >= 0):
        raise UsageError(f"{name('weight_decay')} must be ≥ 0, got {weight_decay}")
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(_finite(b) and 0 <= b < 1 for b in betas)):
        shown = " ".join(map(str, betas)) if isinstance(betas, (tuple, list)) else betas
        raise UsageError(f"{name('betas')} must be two numbers in [0, 1), got {shown}")
    if not (_finite(eps) and eps > 0):
        raise UsageError(f"{name('eps')} must be a positive number, got {eps} (ε keeps m̂/(√v̂ + ε) finite where "
                         "v̂ = 0, as on MNIST's always-blank border pixels)")


class Optimizer:
    """What every optimizer shares: the Network it updates, α (a number, or a schedule of α_t), and t.

    t counts the steps taken, over the whole run; a checkpoint keeps it, and it is all a schedule needs.
    """

    def __init__(self, net, lr):
        self.net = net
        self.lr = lr  # α, or a schedule whose lr_at(t) is α_t (scratchnet.schedules)
        self.t = 0    # steps taken

    def lr_at(self, t):
        """α_t, the learning rate of step t (t = 0, 1, …: the steps taken before it)."""
        return self.lr.lr_at(t) if hasattr(self.lr, "lr_at") else self.lr

    def alpha(self):
        """α_t of the next step, t = self.t."""
        return self.lr_at(self.t)

    def count_step(self):
        """Count the step being taken (t ← t + 1) and return its α_t, read before the count: the one place
        where t advances, called by step() and by a fused step that does the update itself."""
        alpha = self.alpha()
        self.t += 1
        return alpha


def _finite(value):
    """A real number (a bool or a string is none), finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _first_alpha(lr):
    """α_0 of `lr`, a number or a schedule: what check_hyperparameters checks."""
    return lr.lr_at(0) if hasattr(lr, "lr_at") else lr


class SGD(Optimizer):
    """θ ← θ − α g for every W^[l], b^[l], where, as in `torch.optim.SGD` (dampening 0):

        g = ∇C + λθ                      (weight decay λ, applied to W and b alike)
        v₁ = g₁,  v_t = μ v_{t−1} + g_t  (momentum μ; v starts at the first gradient)
        g ← v_t                          (classical momentum), or
        g ← g + μ v_t                    (Nesterov momentum, nesterov=True)

    Args:
        net: the Network whose W and b are updated in place.
        lr: α > 0, or a schedule of α_t.   momentum: μ ≥ 0.   weight_decay: λ ≥ 0.
        nesterov: look ahead along v (needs μ > 0).
    """

    def __init__(self, net, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        check_hyperparameters(_first_alpha(lr), momentum, weight_decay, name=lambda n: f"SGD: {n}")
        if not isinstance(nesterov, bool) or (nesterov and momentum == 0):
            raise UsageError(f"SGD: nesterov must be True or False, and True needs momentum > 0; got nesterov="
                             f"{nesterov!r}, momentum={momentum}")
        super().__init__(net, lr)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.v_W, self.v_b = {}, {}  # momentum buffers, keyed by layer l once the first step made them

    def buffers(self):
        """The state arrays by name, each a dict keyed by l: what a checkpoint must keep."""
        return {"v_W": self.v_W, "v_b": self.v_b}

    def step(self, dW, db):
        """One update of every parameter from ∂C/∂W^[l], ∂C/∂b^[l]; the gradients are not modified."""
        check_gradients(dW, db, self.net.W)
        alpha = self.count_step()                # α_t
        for l in dW:
            self._update(self.net.W[l], dW[l], self.v_W, l, alpha)
            self._update(self.net.b[l], db[l], self.v_b, l, alpha)

    def _update(self, theta, grad, v, l, alpha):
        g = grad + self.weight_decay * theta if self.weight_decay else grad  # g = ∇C + λθ
        if self.momentum:
            if l not in v:
                v[l] = g.copy()                  # v₁ = g₁
            else:
                v[l] *= self.momentum
                v[l] += g                        # v_t = μ v_{t−1} + g_t
            if self.nesterov:
                g = g + self.momentum * v[l]     # Nesterov: g ← g + μ v_t
            else:
                g = v[l]                         # classical: g ← v_t
        theta -= alpha * g                       # θ ← θ − α g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) as `torch.optim.Adam` computes it, for every W^[l], b^[l]; at step t = 1, 2, …:

        g_t = ∇C + λθ_{t−1}                                          (A1, L2 weight decay λ; Adam only)
        m_t = β₁ m_{t−1} + (1 − β₁) g_t,   m_0 = 0                   (A2, first moment)
        v_t = β₂ v_{t−1} + (1 − β₂) g_t²,  v_0 = 0                   (A3, second moment, g² entrywise)
        θ_t = θ_{t−1} − α/(1 − β₁ᵗ) · m_t / (√v_t / √(1 − β₂ᵗ) + ε)  (A4, bias-corrected step)

    ε is added after the bias correction of √v_t, torch's placement. AdamW (below) moves the decay out of g.

    Args:
        net: the Network whose W and b are updated in place.
        lr: α > 0, or a schedule of α_t.   betas: (β₁, β₂) in [0, 1).   eps: ε > 0.   weight_decay: λ ≥ 0.
    """

    decoupled = False  # AdamW: decay θ itself (W1) instead of adding λθ to the gradient (A1)

    def __init__(self, net, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        check_hyperparameters(_first_alpha(lr), weight_decay=weight_decay, betas=betas, eps=eps,
                              name=lambda n: f"{type(self).__name__}: {n}")
        super().__init__(net, lr)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.m_W, self.m_b = {}, {}  # first moments m, keyed by layer l
        self.v_W, self.v_b = {}, {}  # second moments v, keyed by layer l

    def buffers(self):
        """The state arrays by name, each a dict keyed by l: what a checkpoint must keep."""
        return {"m_W": self.m_W, "m_b": self.m_b, "v_W": self.v_W, "v_b": self.v_b}

    def step(self, dW, db):
        """One update of every parameter from ∂C/∂W^[l], ∂C/∂b^[l]; the gradients are not modified."""
        check_gradients(dW, db, self.net.W)
        alpha = self.count_step()                             # α_t; t is now this step's number, 1, 2, …
        for l in dW:
            self._update(self.net.W[l], dW[l], (self.m_W, self.v_W), l, alpha)
            self._update(self.net.b[l], db[l], (self.m_b, self.v_b), l, alpha)

    def _update(self, theta, grad, moments, l, alpha):
        m, v = moments
        xp = get_xp(theta)
        if l not in m:
            m[l], v[l] = xp.zeros_like(theta), xp.zeros_like(theta)  # m_0 = v_0 = 0
        g = grad
        if self.weight_decay and self.decoupled:
            theta *= 1 - alpha * self.weight_decay             # (W1) θ ← (1 − αλ) θ, before the Adam step
        elif self.weight_decay:
            g = grad + self.weight_decay * theta              # (A1) g_t = ∇C + λθ_{t−1}
        m[l] *= self.beta1
        m[l] += (1 - self.beta1) * g                          # (A2) m_t = β₁ m_{t−1} + (1 − β₁) g_t
        v[l] *= self.beta2
        v[l] += (1 - self.beta2) * g * g                      # (A3) v_t = β₂ v_{t−1} + (1 − β₂) g_t²
        bias_correction1 = 1 - self.beta1 ** self.t           # 1 − β₁ᵗ
        bias_correction2 = 1 - self.beta2 ** self.t           # 1 − β₂ᵗ
        denom = xp.sqrt(v[l]) / math.sqrt(bias_correction2) + self.eps  # √v_t / √(1 − β₂ᵗ) + ε
        theta -= (alpha / bias_correction1) * (m[l] / denom)  # (A4) θ_t = θ_{t−1} − α/(1 − β₁ᵗ) · m_t / denom


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019) as `torch.optim.AdamW`: Adam with the weight decay decoupled from g.

        θ ← (1 − αλ) θ                   (W1, first, at the step's α)
        then (A2)–(A4) of Adam with g_t = ∇C, no λθ in it.

    With λ = 0 it is Adam. Unlike torch.optim.AdamW (whose default λ is 0.01) λ defaults to 0 here: the
    flag --weight-decay says how much.
    """

    decoupled = True
