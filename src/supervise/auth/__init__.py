"""Principals, API keys, roles and scopes."""
