"""Policies: the Rego library, its annotations, and the council/domain federation over it."""
