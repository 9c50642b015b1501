"""Scores of submitted reviews, their flags, and the rollups over them."""
