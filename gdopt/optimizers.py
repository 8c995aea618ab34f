"""Three optimizers, one update rule.

Every optimizer applies θ ← θ − α·g, with g = ∇θ (1/|B|) Σ_{i∈B} (f(xᵢ; θ) − yᵢ)². They differ only in
the batch sampler that picks B each step (the caller chooses the batch, as in optax):

============  ===================  =======================  ========
optimizer     B                    steps per epoch          shuffled
============  ===================  =======================  ========
BatchGD       all n samples        1                        no
MiniBatchGD   b samples            ⌈n / b⌉ (last partial)   yes
SGD           1 sample             n                        yes
============  ===================  =======================  ========
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["OPTIMIZERS", "SGD", "BatchGD", "MiniBatchGD", "Optimizer", "descend"]


def descend(params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], lr: tf.Tensor | float) -> tuple[tf.Tensor, ...]:
    """The one update rule of every optimizer here: θ ← θ − α·g."""
    return tuple(p - lr * g for p, g in zip(params, grads, strict=True))


@dataclass(frozen=True)
class Optimizer:
    """Plain gradient descent θ ← θ − α·g; subclasses choose the batch."""

    learning_rate: float
    name: ClassVar[str] = "optimizer"

    def __post_init__(self) -> None:
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning_rate must be a finite number > 0, got {lr!r}")
        object.__setattr__(self, "learning_rate", float(lr))

    def batch_size_for(self, n_samples: int) -> int:
        """The number of samples g averages over in one step."""
        raise NotImplementedError

    @property
    def shuffles(self) -> bool:
        """Whether the samples are reshuffled every epoch (stateless in seed and epoch)."""
        return True

    def steps_per_epoch(self, n_samples: int) -> int:
        return math.ceil(n_samples / self.batch_size_for(n_samples))

    def apply(self, params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor]) -> tuple[tf.Tensor, ...]:
        """θ ← θ − α·g with this optimizer's α (see ``descend``)."""
        return descend(params, grads, self.learning_rate)

    def get_config(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        return cls(**config)


@dataclass(frozen=True)
class BatchGD(Optimizer):
    """Full-batch gradient descent: every sample in every step, one step per epoch.

    >>> BatchGD(learning_rate=0.1).steps_per_epoch(4096)
    1
    """

    learning_rate: float = 0.1
    name: ClassVar[str] = "gd"

    def batch_size_for(self, n_samples: int) -> int:
        return n_samples

    @property
    def shuffles(self) -> bool:
        return False  # the mean over all samples does not depend on their order


@dataclass(frozen=True)
class MiniBatchGD(Optimizer):
    """Mini-batch gradient descent: b shuffled samples per step, ⌈n/b⌉ steps per epoch.

    >>> MiniBatchGD(learning_rate=0.05, batch_size=32).steps_per_epoch(4096)
    128
    """

    learning_rate: float = 0.05
    batch_size: int = 32
    name: ClassVar[str] = "minibatch"

    def __post_init__(self) -> None:
        super().__post_init__()
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {b!r}")

    def batch_size_for(self, n_samples: int) -> int:
        if self.batch_size > n_samples:
            raise ValueError(f"batch_size must be an int in 1..{n_samples} (n_samples), got {self.batch_size}")
        return self.batch_size


@dataclass(frozen=True)
class SGD(Optimizer):
    """Stochastic gradient descent: one shuffled sample per step, n steps per epoch.

    >>> SGD(learning_rate=0.01).steps_per_epoch(4096)
    4096
    """

    learning_rate: float = 0.01
    name: ClassVar[str] = "sgd"

    def batch_size_for(self, n_samples: int) -> int:
        return 1


OPTIMIZERS: dict[str, type[Optimizer]] = {"gd": BatchGD, "minibatch": MiniBatchGD, "sgd": SGD}
