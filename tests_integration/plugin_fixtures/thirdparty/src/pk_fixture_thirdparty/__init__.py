"""Widgets for the host fixture, announced through its entry-point group."""
