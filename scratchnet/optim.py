"""Stochastic gradient descent: θ ← θ − α g, with torch.optim.SGD's momentum and weight decay rules."""


class SGD:
    """θ ← θ − α g for every W^[l], b^[l], where, as in `torch.optim.SGD` (dampening 0):

        g = ∇J + λθ                      (weight decay λ, applied to W and b alike)
        v₁ = g₁,  v_t = μ v_{t−1} + g_t,  g ← v_t       (momentum μ; v starts at the first gradient)

    Args:
        net: the Network whose W and b are updated in place.
        lr: α > 0.   momentum: μ ≥ 0.   weight_decay: λ ≥ 0.
    """

    def __init__(self, net, lr, momentum=0.0, weight_decay=0.0):
        self.net = net
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.v_W, self.v_b = {}, {}  # momentum buffers, keyed by layer l once the first step made them

    def step(self, dW, db):
        """One update of every parameter from ∂C/∂W^[l], ∂C/∂b^[l]; the gradients are not modified."""
        for l in dW:
            self._update(self.net.W[l], dW[l], self.v_W, l)
            self._update(self.net.b[l], db[l], self.v_b, l)

    def _update(self, theta, grad, v, l):
        g = grad + self.weight_decay * theta if self.weight_decay else grad  # g = ∇J + λθ
        if self.momentum:
            if l not in v:
                v[l] = g.copy()                  # v₁ = g₁
            else:
                v[l] *= self.momentum
                v[l] += g                        # v_t = μ v_{t−1} + g_t
            g = v[l]
        theta -= self.lr * g                     # θ ← θ − α g
