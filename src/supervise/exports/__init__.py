"""Exports of results for clinic systems: ``GET /v1/exports/results.csv``."""
