"""The executors platekit-microscopes brings: ``processes`` (the default) and ``dask``.

Each module holds one :class:`~platekit.microscopes._executor.Executor`;
the registry imports them to find their keys, so a module imports its
engine (Dask, say) only when it runs.
"""
