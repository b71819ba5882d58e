"""The project's Kedro hooks, registered in `fashion_vae.settings`: checks before the first node,
one writer at a time, thread pools, timings, and MLflow tracking."""

from .lazy_tracking import TrackingHook
from .runs import (
    ErrorContextHook,
    LoadVersionsHook,
    MissingInputsHook,
    NodeTimingHook,
    RawDataIdentityHook,
    RunLockHook,
    TensorFlowThreadsHook,
)

__all__ = [
    "ErrorContextHook",
    "LoadVersionsHook",
    "MissingInputsHook",
    "NodeTimingHook",
    "RawDataIdentityHook",
    "RunLockHook",
    "TensorFlowThreadsHook",
    "TrackingHook",
]
