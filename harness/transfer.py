"""Weight transfer between the two builds of a mirror model (``harness/mirror.py``).

Each adapter reads and writes a mirror model's weights by neutral name in the neutral layout
(``get_mirror_weights`` / ``set_mirror_weights``), converting its own layout on the way, so a
transfer in either direction is one line and never branches on the framework.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError


def transfer(src_adapter, src_model, dst_adapter, dst_model) -> None:
    """Copy every parameter and running statistic of ``src_model`` into ``dst_model``."""
    dst_adapter.set_mirror_weights(dst_model, src_adapter.get_mirror_weights(src_model))


def check_names_and_shapes(framework: str, expected: dict, given: dict) -> None:
    """Refuse weights that do not map one to one onto the model, naming what is wrong."""
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        raise ConfigError(
            f"weights for the {framework} mirror model do not match it: missing "
            f"{missing[:5] or 'none'}, unexpected {extra[:5] or 'none'}; were they saved from "
            "the same architecture and width?"
        )
    for name, value in given.items():
        shape = np.shape(value)
        if shape != expected[name].shape:
            raise ConfigError(
                f"weights for the {framework} mirror model: {name} has shape {shape}, the model "
                f"needs {expected[name].shape} (neutral layout, see harness/mirror.py)"
            )
