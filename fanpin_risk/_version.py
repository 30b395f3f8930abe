"""The package version (a leaf: imported by the facade and by model metadata)."""

__version__ = "0.1.0"
