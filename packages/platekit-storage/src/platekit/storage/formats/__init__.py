"""Disk file formats that need an extra library, each a plugin of ``platekit.disk_formats``.

``images`` (JPEG, BMP and GIF through imagecodecs, the ``images`` extra) and
``mat`` (MATLAB files through SciPy, the ``mat`` extra). Each module imports
its library only when a file is written or read.
"""
