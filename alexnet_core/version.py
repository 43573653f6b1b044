"""The package version, recorded in every provenance."""
__version__ = "0.1.0"
