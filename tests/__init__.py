"""The engine's pytest suite."""
