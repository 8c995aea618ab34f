"""tools.xla_layouts: several compiles of one training loop, timed in turns (real TensorFlow, tiny data)."""

from __future__ import annotations

import pytest

from gdopt import loop
from tools import xla_layouts


def test_copies_train_alike_and_the_loop_is_put_back() -> None:
    before = loop.epochs_compiled
    out = xla_layouts.measure("gd", copies=2, samples=2, n_samples=128)
    assert loop.epochs_compiled is before
    assert out["copies"] == 2 and len(out["relative_medians_pct"]) == 2
    assert out["distinct_losses"] == 1  # every compile trains to the same loss, bit for bit
    assert 0.0 <= out["p"] <= 1.0


@pytest.mark.parametrize(("args", "message"), [
    (["--optimizer", "adam"], "--optimizer must be one of"),
    (["--copies", "1"], "--copies and --samples must be >= 2"),
    (["--n-samples", "0"], "--n-samples must be >= 1"),
])
def test_bad_arguments_are_named(args: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        xla_layouts.main(args)
    assert exc.value.code == 2 and message in capsys.readouterr().err
