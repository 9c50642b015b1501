"""Aggregates: statistics over stored review results, answered from rollups kept at submission."""
