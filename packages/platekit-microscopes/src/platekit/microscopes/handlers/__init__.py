"""The built-in microscope handlers, one module per format; discovered, never imported here."""
