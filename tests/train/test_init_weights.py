"""fit --init-weights: a run continues from another run's model (same architecture only)."""

import numpy as np
import pytest

from train.errors import ConfigError
from train.fit import init_from
from train.models import build_model


def test_init_from_copies_every_weight_and_refuses_another_shape(tmp_path):
    src = build_model("scratch", 3, 32)
    src.set_weights([np.full_like(w, 0.5) for w in src.get_weights()])
    path = tmp_path / "model.keras"
    src.save(path)
    dst = build_model("scratch", 3, 32)
    init_from(dst, path)
    assert all(np.array_equal(a, b) for a, b in zip(src.get_weights(), dst.get_weights(), strict=True))
    with pytest.raises(ConfigError, match="does not match"):
        init_from(build_model("scratch", 5, 32), path)
