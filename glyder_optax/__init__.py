"""glyder_optax: learning-rate-free optax transforms.

The methods live in private modules (``_glyder``, ``_inexact_polyak``...) and
are re-exported here, as optax does; ``curvature`` and ``training`` are public
modules.
"""

from glyder_optax import curvature
from glyder_optax._adasps import AdaSPSState, adasps, scale_by_adasps
from glyder_optax._decsps import DecSPSState, decsps, scale_by_decsps
from glyder_optax._flood import FloodGateState, flood_gate
from glyder_optax._glyder import GlyderState, glyder, scale_by_glyder
from glyder_optax._glyder_aliases import glyder_adam, glyder_momentum, glyder_sgd
from glyder_optax._gradagrad import GradaGradState, gradagrad, scale_by_gradagrad
from glyder_optax._inexact_polyak import (
    InexactPolyakState,
    inexact_polyak_best_params,
    inexact_polyak_best_value,
    inexact_polyak_sgd,
    scale_by_inexact_polyak,
)
from glyder_optax._mda import MDAState, mda, scale_by_mda
from glyder_optax._readers import glyder_state, share_glyder_count, skipped_steps
from glyder_optax._refinement import (
    GradNormRecorderState,
    record_grad_norms,
    recorded_grad_norms,
    refine_schedule,
    smooth_norms,
)
from glyder_optax._schedules import linear_decay_schedule, schedule_from_array
from glyder_optax._sps_moving_target import (
    SPSMovingTargetState,
    scale_by_sps_moving_target,
    sps_moving_target,
)
from glyder_optax._zigzag import ZigzagMultipleState, scale_by_zigzag_multiple

__version__ = "0.1.0"


def __getattr__(name):
    # `training` imports flax; load it only when asked for.
    if name == "training":
        import importlib

        return importlib.import_module("glyder_optax.training")
    raise AttributeError(f"module 'glyder_optax' has no attribute {name!r}")


__all__ = [
    "AdaSPSState",
    "DecSPSState",
    "FloodGateState",
    "GlyderState",
    "GradNormRecorderState",
    "GradaGradState",
    "InexactPolyakState",
    "MDAState",
    "SPSMovingTargetState",
    "ZigzagMultipleState",
    "adasps",
    "curvature",
    "decsps",
    "flood_gate",
    "glyder",
    "glyder_adam",
    "glyder_momentum",
    "glyder_sgd",
    "glyder_state",
    "gradagrad",
    "inexact_polyak_best_params",
    "inexact_polyak_best_value",
    "inexact_polyak_sgd",
    "linear_decay_schedule",
    "mda",
    "record_grad_norms",
    "recorded_grad_norms",
    "refine_schedule",
    "scale_by_adasps",
    "scale_by_decsps",
    "scale_by_glyder",
    "scale_by_gradagrad",
    "scale_by_inexact_polyak",
    "scale_by_mda",
    "scale_by_sps_moving_target",
    "scale_by_zigzag_multiple",
    "schedule_from_array",
    "share_glyder_count",
    "skipped_steps",
    "smooth_norms",
    "sps_moving_target",
    "training",
]
