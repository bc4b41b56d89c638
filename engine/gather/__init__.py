"""Gathering: find and load the files of a mesh (descriptors, contracts, lineage)."""
