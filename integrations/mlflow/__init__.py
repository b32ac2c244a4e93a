"""MLflow tracking server (REST API 2.0, same for MLflow 2.x and 3.x)."""

from integrations.mlflow.tracker import MlflowTracker

Tracker = MlflowTracker
KIND = "mlflow"

__all__ = ["KIND", "MlflowTracker", "Tracker"]
