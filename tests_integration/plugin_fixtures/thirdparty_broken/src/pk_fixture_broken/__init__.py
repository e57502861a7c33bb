"""A widget for the host fixture whose module fails to import."""
