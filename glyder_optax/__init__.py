"""glyder_optax: learning-rate-free optax transforms."""

from glyder_optax.adasps import AdaSPSState, adasps, scale_by_adasps
from glyder_optax.decsps import DecSPSState, decsps, scale_by_decsps
from glyder_optax.inexact_polyak import (
    InexactPolyakState,
    inexact_polyak_best_params,
    inexact_polyak_sgd,
    scale_by_inexact_polyak,
)

__version__ = "0.1.0"

__all__ = [
    "AdaSPSState",
    "DecSPSState",
    "InexactPolyakState",
    "adasps",
    "decsps",
    "inexact_polyak_best_params",
    "inexact_polyak_sgd",
    "scale_by_adasps",
    "scale_by_decsps",
    "scale_by_inexact_polyak",
]
