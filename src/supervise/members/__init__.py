"""Organisations, members and supervision links."""
