"""The built-in servers, one module each; discovered, never imported here."""
