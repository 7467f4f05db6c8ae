"""Mapping HTTP answers to FerryError subclasses, with and without the native error shape."""
from __future__ import annotations

from typing import Any, Dict, Type

import pytest

import ferry
from ferry.errors import error_from_response


@pytest.mark.parametrize("code, status, cls", [
    ("InvalidArgument", 400, ferry.InvalidArgument),
    ("NotFound", 404, ferry.NotFound),
    ("AlreadyExists", 409, ferry.AlreadyExists),
    ("Conflict", 409, ferry.Conflict),
    ("FailedPrecondition", 400, ferry.FailedPrecondition),
    ("Unauthenticated", 401, ferry.Unauthenticated),
    ("PermissionDenied", 403, ferry.PermissionDenied),
    ("ResourceExhausted", 429, ferry.ResourceExhausted),
    ("PayloadTooLarge", 413, ferry.PayloadTooLarge),
    ("DeadlineExceeded", 504, ferry.DeadlineExceeded),
    ("Unavailable", 503, ferry.Unavailable),
    ("Unimplemented", 501, ferry.Unimplemented),
    ("Internal", 500, ferry.Internal),
    ("MethodNotAllowed", 405, ferry.MethodNotAllowed),
    ("UnsupportedMediaType", 415, ferry.UnsupportedMediaType),
    ("Expired", 410, ferry.Expired),
])
def test_native_error_shape(code: str, status: int, cls: Type[ferry.FerryError]) -> None:
    body: Dict[str, Any] = {"error": {"code": code, "message": "boom", "field": "spec.x"}}
    err = error_from_response(status, body, {}, "")
    assert type(err) is cls
    assert (err.code, err.message, err.field, err.status) == (code, "boom", "spec.x", status)
    assert str(err) == f"HTTP {status} {code}: boom (field spec.x)"


def test_unknown_code_keeps_the_code_and_picks_the_class_by_status() -> None:
    err = error_from_response(409, {"error": {"code": "Aborted", "message": "m"}}, {}, "")
    assert type(err) is ferry.Conflict and err.code == "Aborted" and err.field is None


def test_foreign_body_maps_by_status_and_truncates() -> None:
    err = error_from_response(502, None, {"Retry-After": "3"}, "<html>" + "x" * 2000 + "</html>")
    assert type(err) is ferry.Unavailable and err.code == "Unavailable"
    assert err.message.startswith("<html>") and len(err.message) < 600
    assert err.retry_after == 3.0


def test_unmapped_status() -> None:
    err = error_from_response(418, None, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, "")
    assert type(err) is ferry.FerryError
    assert err.code == "HTTP418" and err.retry_after is None and "418" in err.message


def test_every_error_is_a_ferry_error() -> None:
    for name in ferry.__all__:
        obj = getattr(ferry, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, ferry.FerryError)
