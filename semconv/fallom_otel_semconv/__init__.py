"""Placeholder: filled by the semconv work."""
