"""Small helpers every example in the guide shares: device choice, seeding, reporting."""

from guide.runtime import pick_device, seed_everything, write_metrics

__all__ = ["pick_device", "seed_everything", "write_metrics"]
