"""Job: the registry of the work an execution server runs, by name.

A client never sends code: it names a job (``"convert"``) and gives its
parameters as JSON, which the server checks against the job's declared
``params`` before queueing it. Jobs register under ``_job_name``; the
built-in ones live in ``platekit.zmq.jobs`` and third-party ones join
through the ``platekit.zmq_jobs`` entry-point group.
"""

from __future__ import annotations

from abc import abstractmethod

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig
from platekit.zmq._protocol import Field, ProtocolError, _is_a

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, Protocol

    class Flag(Protocol):
        def is_set(self) -> bool: ...

    #: ``progress(done, total)``: how far a job has come, in its own units.
    ProgressCallback = Callable[[int, int], None]

#: Every job class, by ``_job_name``.
ZMQ_JOBS = LazyDiscoveryDict()


class JobCancelled(Exception):
    """Raised by a job's :meth:`Job.run` when it stopped because it was cancelled."""


class Job(metaclass=AutoRegisterMeta):
    """One kind of work an execution server runs. Subclasses register under ``_job_name``.

    A subclass sets ``_job_name``, ``help`` and ``params`` (parameter name →
    :class:`~platekit.zmq._protocol.Field`), gives optional parameters their
    values in ``defaults``, names the parameters that are paths it reads and
    writes in ``reads`` and ``writes`` (and the one that lets it replace an
    output in ``overwrite``), so the server can confine them to its roots,
    and implements :meth:`run`. It runs in a worker
    process, one job at a time, so it may block, use threads or crash
    without harming the server.
    """

    __registry_config__ = RegistryConfig(
        registry_dict=ZMQ_JOBS,
        key_attribute="_job_name",
        skip_if_no_key=True,
        registry_name="zmq job",
        discovery_package="platekit.zmq.jobs",
        entry_point_group="platekit.zmq_jobs",
        metadata_attributes=("help",),
    )

    #: The job's name in ``submit`` requests: ``platekit submit NAME``.
    _job_name: str | None = None
    #: One line for people: what the job does.
    help: str = ""
    #: Parameter name → its JSON type and whether it must be given.
    params: ClassVar[dict[str, Field]] = {}
    #: The values of optional parameters that were not given.
    defaults: ClassVar[dict[str, Any]] = {}
    #: Parameters that are paths the job reads, confined to the server's read roots.
    reads: ClassVar[tuple[str, ...]] = ()
    #: Parameters that are paths the job writes, confined to the server's write roots.
    writes: ClassVar[tuple[str, ...]] = ()
    #: The boolean parameter that lets the job delete what is at its outputs, if it has one;
    #: refused unless the server allows overwriting.
    overwrite: ClassVar[str | None] = None

    @property
    def name(self) -> str:
        return self._job_name or type(self).__name__

    def check(self, params: object) -> dict[str, Any]:
        """The parameters to run with: ``params`` checked, defaults filled in.

        Raises :class:`~platekit.zmq.ProtocolError` (code ``"invalid"``)
        naming the parameter that is unknown, missing or of the wrong type.
        Subclasses that check more (a range, a path) extend this and raise
        the same way.
        """
        if not isinstance(params, dict):
            raise ProtocolError(
                "invalid",
                f"the parameters of the {self.name!r} job must be a JSON object, "
                f"got {type(params).__name__}",
            )
        for key, value in params.items():
            field = self.params.get(key)
            if field is None:
                known = ", ".join(sorted(self.params)) or "none"
                raise ProtocolError(
                    "invalid",
                    f"the {self.name!r} job takes no parameter {key!r}; its parameters: {known}",
                )
            if not _is_a(value, field.kind):
                raise ProtocolError(
                    "invalid",
                    f"parameter {key!r} of the {self.name!r} job must be {field.kind}, "
                    f"got {type(value).__name__} {value!r}",
                )
        for key, field in self.params.items():
            if field.required and key not in params:
                raise ProtocolError("invalid", f"the {self.name!r} job needs the parameter {key!r}")
        # In the order the job declares them, so records read alike.
        given = {**self.defaults, **params}
        return {key: given[key] for key in self.params if key in given}

    @abstractmethod
    def run(
        self, params: dict[str, Any], progress: ProgressCallback, cancel: Flag
    ) -> dict[str, Any]:
        """Do the work; return a JSON-safe summary of the result.

        ``params`` are those :meth:`check` returned. Call ``progress(done,
        total)`` as the work advances, and check ``cancel.is_set()`` often
        (at least every few hundred milliseconds): once it is set, stop and
        raise :class:`JobCancelled`. Any other exception fails the job; its
        type, message and traceback reach the client.
        """
