"""Talk to the Knowledge Engine: a typed REST client, transports, and a faithful emulator.

::

    from dso_saref.ke import EmulatorServer, KnowledgeEngineClient

    with EmulatorServer(port=0) as server, KnowledgeEngineClient(server.base_url) as ke:
        ke.register_knowledge_base("http://example.org/kb", "kb", "an example")
"""

from dso_saref.ke.client import HTTPTransport, KnowledgeEngineClient, Timeouts
from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_http import EmulatorServer
from dso_saref.ke.errors import (
    BadRequest,
    Conflict,
    Gone,
    KnowledgeBaseNotFound,
    KnowledgeEngineError,
    KnowledgeEngineTimeout,
    KnowledgeEngineUnavailable,
    NotFound,
    ServerError,
    UnexpectedResponse,
    UnsupportedOperation,
)
from dso_saref.ke.queue_retry import QueueRetry
from dso_saref.ke.results import (
    AskResult,
    Binding,
    BindingSet,
    CommunicativeAct,
    ExchangeInfo,
    HandleRequest,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    Lease,
    PostResult,
)
from dso_saref.ke.transport import (
    GenericAdapterTransport,
    InProcessTransport,
    KERequest,
    KEResponse,
    Transport,
)

__all__ = [
    "AskResult",
    "BadRequest",
    "Binding",
    "BindingSet",
    "CommunicativeAct",
    "Conflict",
    "EmulatorConfig",
    "EmulatorServer",
    "ExchangeInfo",
    "GenericAdapterTransport",
    "Gone",
    "HTTPTransport",
    "HandleRequest",
    "InProcessTransport",
    "KERequest",
    "KEResponse",
    "KnowledgeBaseInfo",
    "KnowledgeBaseNotFound",
    "KnowledgeEngineClient",
    "KnowledgeEngineEmulator",
    "KnowledgeEngineError",
    "KnowledgeEngineTimeout",
    "KnowledgeEngineUnavailable",
    "KnowledgeInteractionInfo",
    "Lease",
    "NotFound",
    "PostResult",
    "QueueRetry",
    "ServerError",
    "Timeouts",
    "Transport",
    "UnexpectedResponse",
    "UnsupportedOperation",
]
