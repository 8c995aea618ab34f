"""The NumPy yardstick: a hand-written forward/backward of the same Dense stack.

For a ReLU network ŷ = W₂ᵀ relu(W₁ᵀx + b₁) + b₂ and L = (1/b) Σ (ŷ − y)²::

    r = ŷ − y,  δ₂ = 2r/b,  ∂W₂ = aᵀδ₂,  ∂b₂ = Σδ₂,
    δ₁ = (δ₂W₂ᵀ) ⊙ [z > 0],  ∂W₁ = xᵀδ₁,  ∂b₁ = Σδ₁

``gdopt.train``'s full-batch step is timed against ``step`` here (``tools/speed.py``), and the
tests check that both compute the same gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["loss_and_grads", "step"]


def loss_and_grads(
    params: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """MSE and its gradient for params [W₁, b₁, …, W_L, b_L] (ReLU hidden layers, linear output)."""
    n_layers = len(params) // 2
    acts = [x]
    pre = []
    h = x
    for i in range(n_layers):
        z = h @ params[2 * i] + params[2 * i + 1]
        pre.append(z)
        h = np.maximum(z, 0) if i < n_layers - 1 else z
        acts.append(h)
    r = h - y
    loss = float(np.mean(r * r))
    delta = (2.0 / x.shape[0]) * r
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    for i in reversed(range(n_layers)):
        grads[2 * i] = acts[i].T @ delta
        grads[2 * i + 1] = delta.sum(axis=0)
        if i:
            delta = (delta @ params[2 * i].T) * (pre[i - 1] > 0)
    return loss, grads


def step(params: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray, learning_rate: float) -> list[np.ndarray]:
    """One full-batch gradient-descent step θ ← θ − α·∇L(θ)."""
    _, grads = loss_and_grads(params, x, y)
    return [p - learning_rate * g for p, g in zip(params, grads, strict=True)]
