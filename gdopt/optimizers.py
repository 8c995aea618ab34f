"""Four optimizers, one update rule, optax-style: a small frozen value with ``init`` and ``update``.

Every optimizer descends θ ← θ − α·g with g = ∇θ (1/|B|) Σ_{i∈B} (f(xᵢ; θ) − yᵢ)². They differ in the
batch sampler that picks B each step (the caller chooses the batch, as in optax) and, for momentum, in
the direction fed to the rule, which comes from a state the training loop carries:

============  ===================  =======================  ========  ==================
optimizer     B                    steps per epoch          shuffled  state
============  ===================  =======================  ========  ==================
BatchGD       all n samples        1                        no        ()
MiniBatchGD   b samples            ⌈n / b⌉ (last partial)   yes       ()
SGD           1 sample             n                        yes       ()
Momentum      b samples            ⌈n / b⌉ (last partial)   yes       v (one per tensor)
============  ===================  =======================  ========  ==================

``init(params) -> state`` and ``update(grads, state, params) -> (new_params, new_state)`` are pure
TensorFlow, traced once inside the compiled loop. The fields named in ``hyperparameters`` enter that
loop as tensors (``split``/``join``), so new values reuse the compiled graph. A subclass that sets
its own ``name`` is registered in ``OPTIMIZERS``: a new optimizer is one class and nothing else.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["OPTIMIZERS", "SGD", "BatchGD", "MiniBatchGD", "Momentum", "Optimizer", "State", "descend"]

State = tuple  # a (possibly empty) tuple of tensors, carried by the loop from one step to the next

_REGISTRY: dict[str, type[Optimizer]] = {}
OPTIMIZERS: Mapping[str, type[Optimizer]] = types.MappingProxyType(_REGISTRY)
"""Every optimizer class by its ``name``, in definition order (read-only; filled by subclassing)."""


def descend(params: Sequence[tf.Tensor], grads: Sequence[tf.Tensor], lr: tf.Tensor | float) -> tuple[tf.Tensor, ...]:
    """The one update rule of every optimizer here: θ ← θ − α·g."""
    return tuple(p - lr * g for p, g in zip(params, grads, strict=True))


@dataclass(frozen=True)
class Optimizer:
    """Plain gradient descent θ ← θ − α·g with no state; subclasses choose the batch."""

    learning_rate: float
    name: ClassVar[str] = "optimizer"
    hyperparameters: ClassVar[tuple[str, ...]] = ("learning_rate",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # helpers and unnamed subclasses stay out of the registry
            return
        if cls.name in _REGISTRY:
            raise TypeError(f"optimizer name {cls.name!r} is taken by {_REGISTRY[cls.name].__qualname__}")
        _REGISTRY[cls.name] = cls

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

    def init(self, params: Sequence[tf.Tensor]) -> State:
        """The state before the first step: none for plain gradient descent."""
        return ()

    def update(self, grads: Sequence[tf.Tensor], state: State, params: Sequence[tf.Tensor]
               ) -> tuple[tuple[tf.Tensor, ...], State]:
        """One step: θ ← θ − α·g; returns (new θ, new state)."""
        return descend(params, grads, self.learning_rate), state

    def split(self) -> tuple[tuple, tuple[float, ...]]:
        """(static part, hyperparameter values): the static part keys the compiled graph, the values feed it."""
        static = tuple((f.name, getattr(self, f.name)) for f in fields(self) if f.name not in self.hyperparameters)
        return (type(self), static), tuple(getattr(self, h) for h in self.hyperparameters)

    @staticmethod
    def join(static: tuple, values: Sequence[Any]) -> Optimizer:
        """The inverse of ``split``, unchecked: inside the compiled loop the values are symbolic tensors."""
        cls, kept = static
        opt = object.__new__(cls)
        for key, value in (*kept, *zip(cls.hyperparameters, values, strict=True)):
            object.__setattr__(opt, key, value)
        return opt

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
class _ShuffledBatches(Optimizer):
    """The mini-batch sampler: b shuffled samples per step, ⌈n/b⌉ steps per epoch, the last one partial."""

    batch_size: int = 32

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
class MiniBatchGD(_ShuffledBatches):
    """Mini-batch gradient descent: b shuffled samples per step, ⌈n/b⌉ steps per epoch.

    >>> MiniBatchGD(learning_rate=0.05, batch_size=32).steps_per_epoch(4096)
    128
    """

    learning_rate: float = 0.05
    name: ClassVar[str] = "minibatch"


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


@dataclass(frozen=True)
class Momentum(_ShuffledBatches):
    """Heavy-ball momentum on shuffled mini-batches: v ← β·v + g, then θ ← θ − α·v (v₀ = 0).

    Fields in order: ``learning_rate``, ``batch_size``, ``momentum`` (pass them by keyword).

    >>> opt = Momentum(learning_rate=0.01, momentum=0.9, batch_size=32)
    >>> opt.steps_per_epoch(4096), opt.get_config()["momentum"]
    (128, 0.9)
    """

    learning_rate: float = 0.01
    momentum: float = 0.9
    name: ClassVar[str] = "momentum"
    hyperparameters: ClassVar[tuple[str, ...]] = ("learning_rate", "momentum")

    def __post_init__(self) -> None:
        super().__post_init__()
        beta = self.momentum
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
            raise ValueError(f"momentum must be a number in [0, 1), got {beta!r}")
        object.__setattr__(self, "momentum", float(beta))

    def init(self, params: Sequence[tf.Tensor]) -> State:
        import tensorflow as tf  # here: the classes themselves import without TensorFlow

        return tuple(tf.zeros_like(p) for p in params)

    def update(self, grads: Sequence[tf.Tensor], state: State, params: Sequence[tf.Tensor]
               ) -> tuple[tuple[tf.Tensor, ...], State]:
        velocity = tuple(self.momentum * v + g for v, g in zip(state, grads, strict=True))
        return descend(params, velocity, self.learning_rate), velocity
