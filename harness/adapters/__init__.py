"""Framework adapters that mirror each other.

``harness.adapters.pytorch`` and ``harness.adapters.tensorflow`` define the same functions with the
same signatures, so the runner and the comparison code never branch on the framework:

    NAME                                      the framework's name in records
    versions() -> dict                        package versions, read from the installed packages
    configure(intra, inter, device) -> dict   threads, device, determinism switches; what was set
    seed(seed) -> None                        seed every generator the framework draws from
    build_zoo(arch, num_classes, shape)       the framework's own published model (paper-faithful)
    train(model, x, y, hp, epochs, on_epoch_end=None) -> dict
                                              native-mode training: per-epoch losses, divergence
    predict(model, x) -> np.ndarray           predicted classes (int64)
    weights(model) -> dict[str, np.ndarray]   every variable by name, in the framework's layout

Inputs are uint8 NHWC arrays; each adapter scales them to [0, 1] and lays them out its own way.
Frameworks are imported lazily, inside the adapter, so the harness imports without them.
"""

from __future__ import annotations

import importlib

from ..errors import FrameworkMissing
from ..sides import FRAMEWORKS, SIDES  # noqa: F401  (FRAMEWORKS: the default pair, read from here)


def get_adapter(framework: str):
    """The adapter of a side (``harness.sides``), its framework imported."""
    if framework not in SIDES:
        raise ValueError(f"unknown framework {framework!r}: use one of {', '.join(SIDES)}")
    side = SIDES[framework]
    module = importlib.import_module(f"{__name__}.{side.adapter}")
    try:
        module.import_framework()
    except ImportError as exc:
        raise FrameworkMissing(
            f"{framework} is not installed ({exc}); install it with `{side.install_hint()}`"
        ) from None
    return module
