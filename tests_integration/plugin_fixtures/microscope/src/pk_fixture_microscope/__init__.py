"""Test fixture: the Acme plate format, read through platekit's handler contract."""
