"""govern: federated computational governance for a data mesh."""

__version__ = "0.1.0"
