"""Single-step state updates for recurrent inference.

The Triton versions (``selective_state_update_triton``, ``ssd_state_update_triton``) live in
``.triton`` and are imported on first access, so importing this package never imports Triton.
"""

from .reference import selective_state_update_ref, ssd_state_update_ref

__all__ = ["selective_state_update_ref", "ssd_state_update_ref"]

_TRITON = ("selective_state_update_triton", "ssd_state_update_triton")


def __getattr__(name: str):
    if name in _TRITON:
        from . import triton

        return getattr(triton, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
