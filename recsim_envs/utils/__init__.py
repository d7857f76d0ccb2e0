"""Shared helpers: argument validation and the counter-based random streams used by every env."""
