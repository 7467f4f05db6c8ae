"""Errors raised by the Ferry SDK.

Every failure the server reports becomes a `FerryError` subclass chosen by the
error code of the native API's error shape
`{"error": {"code", "message", "field"}}`, so callers can catch `NotFound` or
`Conflict` without looking at HTTP statuses. Failures to reach the server at
all raise `Unavailable` with `status` None.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type


class FerryError(Exception):
    """A request failed; `code` is the API error code, `status` the HTTP status (None if none arrived)."""

    default_code = "Unknown"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        field: Optional[str] = None,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.code: str = code or self.default_code
        self.message: str = message
        self.field: Optional[str] = field
        self.status: Optional[int] = status
        # Seconds the server asked us to wait before retrying (429/503), if it said.
        self.retry_after: Optional[float] = retry_after

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        status = f"HTTP {self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}{where}"


class InvalidArgument(FerryError):
    default_code = "InvalidArgument"


class NotFound(FerryError):
    default_code = "NotFound"


class AlreadyExists(FerryError):
    default_code = "AlreadyExists"


class Conflict(FerryError):
    default_code = "Conflict"


class FailedPrecondition(FerryError):
    default_code = "FailedPrecondition"


class Unauthenticated(FerryError):
    default_code = "Unauthenticated"


class PermissionDenied(FerryError):
    default_code = "PermissionDenied"


class ResourceExhausted(FerryError):
    default_code = "ResourceExhausted"


class PayloadTooLarge(FerryError):
    default_code = "PayloadTooLarge"


class DeadlineExceeded(FerryError):
    default_code = "DeadlineExceeded"


class Unavailable(FerryError):
    default_code = "Unavailable"


class Unimplemented(FerryError):
    default_code = "Unimplemented"


class Internal(FerryError):
    default_code = "Internal"


class MethodNotAllowed(FerryError):
    default_code = "MethodNotAllowed"


class UnsupportedMediaType(FerryError):
    default_code = "UnsupportedMediaType"


class Expired(FerryError):
    """A watch or list continuation asked for history the server no longer keeps (HTTP 410)."""

    default_code = "Expired"


_BY_CODE: Dict[str, Type[FerryError]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgument, NotFound, AlreadyExists, Conflict, FailedPrecondition, Unauthenticated,
        PermissionDenied, ResourceExhausted, PayloadTooLarge, DeadlineExceeded, Unavailable,
        Unimplemented, Internal, MethodNotAllowed, UnsupportedMediaType, Expired,
    )
}

# For responses without the native error shape (a proxy's 502 page, say).
_BY_STATUS: Dict[int, Type[FerryError]] = {
    400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound,
    405: MethodNotAllowed, 409: Conflict, 410: Expired, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 429: ResourceExhausted, 500: Internal, 501: Unimplemented,
    502: Unavailable, 503: Unavailable, 504: DeadlineExceeded,
}


def error_from_response(status: int, body: Any, headers: Mapping[str, str], raw_text: str) -> FerryError:
    """Builds the FerryError for a non-2xx response from its decoded JSON body (or None) and raw text."""
    retry_after = _parse_retry_after(headers.get("Retry-After"))
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), str):
        code = err["code"]
        message = err.get("message") if isinstance(err.get("message"), str) else ""
        field = err.get("field") if isinstance(err.get("field"), str) else None
        cls = _BY_CODE.get(code) or _BY_STATUS.get(status, FerryError)
        return cls(message or code, code=code, field=field, status=status, retry_after=retry_after)
    cls = _BY_STATUS.get(status, FerryError)
    text = raw_text.strip()
    if len(text) > 500:
        text = text[:500] + "..."
    code = cls.default_code if cls is not FerryError else f"HTTP{status}"
    return cls(text or f"HTTP {status} with an empty body", code=code, status=status, retry_after=retry_after)


def _parse_retry_after(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # An HTTP-date; Ferry sends seconds, so other servers' dates are ignored.
    return seconds if seconds >= 0 else None
