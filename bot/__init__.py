"""readybot: ties ML team meetings to training-run results."""
