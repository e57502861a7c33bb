"""The built-in jobs of the execution server, one module each; discovered, never imported here."""
