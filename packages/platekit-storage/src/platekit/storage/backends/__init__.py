"""The backends platekit-storage brings; each module here is discovered as a plugin."""
