"""Single-step state updates: the references here; the Triton versions in ``.triton`` (imported by dispatch on use)."""

from .reference import selective_state_update_ref, ssd_state_update_ref

__all__ = ["selective_state_update_ref", "ssd_state_update_ref"]
