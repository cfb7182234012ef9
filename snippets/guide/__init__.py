"""Small helpers every example in the guide shares: device choice, threads, seeding, reporting."""

from guide.runtime import pick_device, seed_everything, set_threads, trainer_device_args, training_args, write_metrics

__all__ = ["pick_device", "seed_everything", "set_threads", "trainer_device_args", "training_args", "write_metrics"]
