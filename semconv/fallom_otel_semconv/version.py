"""Version of this distribution (all three fallom-otel distributions share it)."""

__version__ = "0.1.0"
