"""Ferry Python SDK: a typed client of the Ferry server's native resource API.

    import ferry
    client = ferry.Client()                      # $FERRY_SERVER or http://127.0.0.1:8080
    client.apply("configmap.yaml")
    for event_type, obj in client.watch("configmaps", timeout=30):
        ...
"""
from ._service import ResourceKind, ResourceList, WatchEvent
from ._version import __version__
from .client import Client
from . import tune
from .errors import (
    AlreadyExists,
    Conflict,
    DeadlineExceeded,
    Expired,
    FailedPrecondition,
    FerryError,
    Internal,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    UnsupportedMediaType,
)

__all__ = [
    "AlreadyExists", "Client", "Conflict", "DeadlineExceeded", "Expired", "FailedPrecondition", "FerryError",
    "Internal", "InvalidArgument", "MethodNotAllowed", "NotFound", "PayloadTooLarge", "PermissionDenied",
    "ResourceExhausted", "ResourceKind", "ResourceList", "Unauthenticated", "Unavailable", "Unimplemented",
    "UnsupportedMediaType", "WatchEvent", "__version__", "tune",
]
