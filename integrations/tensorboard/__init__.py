"""TensorBoard log folders on a local or mounted filesystem, read without a TensorBoard server."""

from integrations.tensorboard.tracker import TensorboardTracker

Tracker = TensorboardTracker
KIND = "tensorboard"

__all__ = ["KIND", "Tracker", "TensorboardTracker"]
