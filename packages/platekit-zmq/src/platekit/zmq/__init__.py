"""platekit-zmq: platekit's work in other processes, over ZeroMQ, safe on the wire.

``launch_server("execution")`` starts a server in a subprocess and returns
a handle once it answers a ping; the execution server runs jobs (plate
conversion first) with progress, cancel and a bounded queue, and the
stream server stores the images that the ``zmq_stream`` storage backend
sends it. Messages are JSON headers with raw buffers in frames of their
own, never pickle; servers bind 127.0.0.1 unless CURVE keys authenticate
their clients.
"""

from platekit.cache import lazy_exports

#: The version of platekit-zmq: written only here, where hatchling reads it.
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.zmq._client import Client, ServerError, ServerGone
    from platekit.zmq._jobs import ZMQ_JOBS, Job, JobCancelled
    from platekit.zmq._launch import ServerHandle, ServerStartError, launch_server
    from platekit.zmq._protocol import PROTOCOL_VERSION, ProtocolError
    from platekit.zmq._security import InsecureBindError, client_keys, make_keys
    from platekit.zmq._server import ZMQ_SERVERS, ZMQServer
    from platekit.zmq._submit import ServerBusy, cancel, job_status, submit, wait
    from platekit.zmq.servers.stream import StreamServer
    from platekit.zmq.stream_backend import ZmqStreamBackend

__all__ = [
    "PROTOCOL_VERSION",
    "ZMQ_JOBS",
    "ZMQ_SERVERS",
    "Client",
    "InsecureBindError",
    "Job",
    "JobCancelled",
    "ProtocolError",
    "ServerBusy",
    "ServerError",
    "ServerGone",
    "ServerHandle",
    "ServerStartError",
    "StreamServer",
    "ZMQServer",
    "ZmqStreamBackend",
    "__version__",
    "cancel",
    "client_keys",
    "job_status",
    "launch_server",
    "make_keys",
    "submit",
    "wait",
]

# Public name -> private module that defines it.
_HOMES = {
    "Client": "_client",
    "ServerError": "_client",
    "ServerGone": "_client",
    "ServerHandle": "_launch",
    "ServerStartError": "_launch",
    "launch_server": "_launch",
    "PROTOCOL_VERSION": "_protocol",
    "ProtocolError": "_protocol",
    "InsecureBindError": "_security",
    "client_keys": "_security",
    "make_keys": "_security",
    "ZMQ_SERVERS": "_server",
    "ZMQServer": "_server",
    "ZMQ_JOBS": "_jobs",
    "Job": "_jobs",
    "JobCancelled": "_jobs",
    "ServerBusy": "_submit",
    "cancel": "_submit",
    "job_status": "_submit",
    "submit": "_submit",
    "wait": "_submit",
    "StreamServer": "servers.stream",
    "ZmqStreamBackend": "stream_backend",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
