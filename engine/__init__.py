"""govern: federated computational governance for a data mesh."""

__version__ = "0.2.0"
