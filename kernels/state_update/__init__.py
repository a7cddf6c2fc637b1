"""Single-step state updates for recurrent inference."""

from .reference import selective_state_update_ref, ssd_state_update_ref

__all__ = ["selective_state_update_ref", "ssd_state_update_ref"]
