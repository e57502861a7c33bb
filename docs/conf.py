"""Sphinx configuration for the platekit documentation.

Build from the repository root, with the packages installed (not from src/)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

project = "platekit"
author = "The platekit developers"
copyright = "the platekit developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]

# The API pages document names one by one: platekit.cache loads them lazily,
# so a module-wide :members: would miss them.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
html_title = "platekit"
