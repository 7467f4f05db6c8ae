"""`ferry.Client`: the SDK's entry point to a Ferry server's native resource API.

Layering follows MLflow's and KFP's clients: `Client` (defaults and
conveniences: kind names, create-or-replace, every page of a list) calls the
service layer (`_service.ResourceService`, one method per REST route), which
calls the HTTP layer (`_http.Transport`).

Thread-safety: a Client may be shared by threads for simple calls as far as
`requests.Session` allows; give each thread that watches its own Client.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Union, overload
from urllib.parse import urlsplit

import requests

from . import errors
from ._http import Transport
from ._manifests import Source, load_manifests
from ._service import ResourceKind, ResourceList, ResourceService, WatchEvent

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_NAMESPACE = "default"

Object = Dict[str, Any]


class Client:
    """A client of one Ferry server; `url` defaults to $FERRY_SERVER, then http://127.0.0.1:8080."""

    def __init__(self, url: Optional[str] = None, *, timeout: float = 30.0,
                 session: Optional[requests.Session] = None) -> None:
        url = url or os.environ.get("FERRY_SERVER") or DEFAULT_URL
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise errors.InvalidArgument(f"server URL '{url}' must look like http://host:port", field="url")
        self.url = url.rstrip("/")
        self._transport = Transport(self.url, timeout, session)
        self._resources = ResourceService(self._transport)

    def close(self) -> None:
        """Releases the client's connections."""
        self._transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Server.

    def health(self) -> bool:
        """Whether GET /healthz answers 200; raises Unavailable if the server cannot be reached."""
        status, _ = self._transport.get_text("/healthz")
        return status == 200

    def ready(self) -> bool:
        """Whether GET /readyz answers 200 (the store answers); raises Unavailable if unreachable."""
        status, _ = self._transport.get_text("/readyz")
        return status == 200

    def version(self) -> str:
        """The server's version."""
        version = self._transport.request("GET", "/version").get("version")
        if not isinstance(version, str):
            raise errors.Internal("GET /version did not answer {\"version\": \"...\"}")
        return version

    def discovery(self) -> Object:
        """The APIResourceList of GET /api/v1: every kind the server serves."""
        return self._resources.discovery()

    def resolve_kind(self, name: str) -> ResourceKind:
        """The kind called `name` (plural, singular, kind or short name, any case); NotFound if none."""
        return self._resources.resolve(name)

    # Resources.

    def create(self, obj: Object, namespace: Optional[str] = None) -> Object:
        """Creates `obj` in `namespace` (default: its metadata.namespace, else "default"); returns it as stored."""
        kind = self._resources.resolve_object(obj)
        return self._resources.create(kind, namespace or _namespace_of(obj), obj)

    def get(self, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE) -> Object:
        """The object `name` of `kind`."""
        return self._resources.get(self._resources.resolve(kind), namespace, name)

    def list(self, kind: str, namespace: Optional[str] = DEFAULT_NAMESPACE, label_selector: Optional[str] = None,
             limit: Optional[int] = None) -> ResourceList:
        """Every object of `kind` in `namespace` (None: all namespaces), fetching all pages of `limit` items.

        The result's `resource_version` is the first page's, so a watch from it
        misses nothing (it may repeat changes that later pages already show).
        """
        pages = self.list_pages(kind, namespace, label_selector, limit)
        first = next(pages)
        items: List[Object] = [*first]
        for page in pages:
            items.extend(page)
        return ResourceList(items, first.resource_version, None)

    def list_pages(self, kind: str, namespace: Optional[str] = DEFAULT_NAMESPACE,
                   label_selector: Optional[str] = None, limit: Optional[int] = None) -> Iterator[ResourceList]:
        """Yields the pages of a list one request at a time; each page carries its continue token."""
        resource_kind = self._resources.resolve(kind)
        token: Optional[str] = None
        while True:
            page = self._resources.list_page(resource_kind, namespace, label_selector, limit, token)
            yield page
            token = page.continue_token
            if token is None:
                return

    def replace(self, obj: Object) -> Object:
        """Replaces the stored object named by obj's metadata; 409 Conflict if its resourceVersion is stale."""
        kind = self._resources.resolve_object(obj)
        return self._resources.replace(kind, _namespace_of(obj), _name_of(obj), obj)

    def replace_status(self, obj: Object) -> Object:
        """Replaces only the status of the stored object named by obj's metadata."""
        kind = self._resources.resolve_object(obj)
        return self._resources.replace_status(kind, _namespace_of(obj), _name_of(obj), obj)

    def patch(self, kind: str, name: str, patch: Object, namespace: str = DEFAULT_NAMESPACE) -> Object:
        """Applies a JSON merge patch (RFC 7386: null deletes a key) and returns the result."""
        if not isinstance(patch, dict):
            raise errors.InvalidArgument("a merge patch must be a mapping", field="patch")
        return self._resources.patch(self._resources.resolve(kind), namespace, name, patch)

    def delete(self, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE,
               resource_version: Optional[str] = None) -> Object:
        """Deletes the object, only if it is still at `resource_version` when given; returns it."""
        return self._resources.delete(self._resources.resolve(kind), namespace, name, resource_version)

    @overload
    def apply(self, source: Object) -> Object: ...

    @overload
    def apply(self, source: Union[List[Object], str, "os.PathLike[str]"]) -> List[Object]: ...

    def apply(self, source: Source) -> Union[Object, List[Object]]:
        """Creates each object, or replaces it if it differs from the stored one, like `ferry apply -f`.

        `source` is a dict (returns the stored object), or a list of dicts,
        YAML/JSON text (multi-document) or a file path (returns the list).
        Objects are applied in order; the first failure raises.
        """
        objects = load_manifests(source)
        applied = [self._apply_one(obj) for obj in objects]
        return applied[0] if isinstance(source, dict) else applied

    def watch(self, kind: str, namespace: Optional[str] = DEFAULT_NAMESPACE, resource_version: Optional[str] = None,
              label_selector: Optional[str] = None, timeout: Optional[float] = None) -> Iterator[WatchEvent]:
        """Yields (event_type, object) for each change after `resource_version`.

        Without one (or with "0") the stream starts with every current object
        as ADDED, as in Kubernetes. Ends when the server closes the stream or
        after `timeout` seconds; raises Expired if `resource_version` is older
        than the server keeps (list again and watch from the list's).
        """
        return self._resources.watch(self._resources.resolve(kind), namespace, resource_version, label_selector,
                                     timeout)

    def _apply_one(self, obj: Object) -> Object:
        # As `ferry apply`: read, then create, leave alone, or replace at the
        # revision just read; a concurrent writer costs one more round.
        kind = self._resources.resolve_object(obj)
        namespace, name = _namespace_of(obj), _name_of(obj)
        attempt = 0
        while True:
            attempt += 1
            retry = attempt == 1
            try:
                live: Optional[Object] = self._resources.get(kind, namespace, name)
            except errors.NotFound:
                live = None
            if live is None:
                try:
                    return self._resources.create(kind, namespace, obj)
                except errors.AlreadyExists:
                    if retry:
                        continue
                    raise
            if _same_user_fields(obj, live):
                return live
            desired = dict(obj, metadata=dict(_metadata(obj)))
            desired["metadata"]["resourceVersion"] = _metadata(live).get("resourceVersion")
            try:
                return self._resources.replace(kind, namespace, name, desired)
            except (errors.Conflict, errors.NotFound):
                if retry:
                    continue
                raise


def _same_user_fields(applied: Object, live: Object) -> bool:
    """Whether applying would change nothing a user sets (absent and empty count as equal)."""
    def empty(x: Any) -> bool:
        return x is None or (isinstance(x, (dict, list, str)) and len(x) == 0)

    def same(a: Any, b: Any) -> bool:
        return bool(a == b) or (empty(a) and empty(b))

    applied_meta, live_meta = _metadata(applied), _metadata(live)
    if not all(same(applied_meta.get(k), live_meta.get(k)) for k in ("labels", "annotations")):
        return False
    server_managed = {"apiVersion", "kind", "metadata", "status"}
    keys = (set(applied) | set(live)) - server_managed
    return all(same(applied.get(k), live.get(k)) for k in keys)


def _metadata(obj: Object) -> Dict[str, Any]:
    if not isinstance(obj, dict):
        raise errors.InvalidArgument(f"a resource must be a mapping, not {type(obj).__name__}")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise errors.InvalidArgument("the object has no metadata", field="metadata")
    return meta


def _namespace_of(obj: Object) -> str:
    ns = _metadata(obj).get("namespace")
    return ns if isinstance(ns, str) and ns else DEFAULT_NAMESPACE


def _name_of(obj: Object) -> str:
    name = _metadata(obj).get("name")
    if not isinstance(name, str) or not name:
        raise errors.InvalidArgument("the object has no metadata.name", field="metadata.name")
    return name
