"""The built-in widgets: every module here is a plugin."""
