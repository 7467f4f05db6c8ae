"""Service layer: one method per native REST route, plus kind resolution through discovery.

It knows the URL layout (`/api/v1/namespaces/{ns}/{plural}[/{name}]`) and the
wire shapes, and nothing of the conveniences `Client` adds on top (defaults,
create-or-replace, fetching every page).

Thread-safety: as safe as the Transport it is given; the discovery cache is
replaced whole, never edited in place.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import quote

from . import errors
from ._http import MERGE_PATCH_TYPE, Transport
from ._sse import SseParser

API_PREFIX = "/api/v1"

Object = Dict[str, Any]


@dataclass(frozen=True)
class ResourceKind:
    """A kind the server serves, as discovery describes it."""

    name: str  # the plural, which is also the URL segment: "configmaps"
    singular_name: str
    kind: str
    group: str
    api_version: str
    namespaced: bool
    short_names: Tuple[str, ...]
    verbs: Tuple[str, ...]

    def matches(self, name: str) -> bool:
        """Whether `name` is this kind's plural, singular, kind, short name or plural.group (any case)."""
        n = name.lower()
        names = {self.name.lower(), self.singular_name.lower(), self.kind.lower(),
                 *(s.lower() for s in self.short_names)}
        if self.group:
            names.add(f"{self.name}.{self.group}".lower())
        return n in names


class ResourceList(List[Object]):
    """The items of a list call, with the list's resourceVersion and, for one page, the continue token."""

    def __init__(self, items: List[Object], resource_version: str, continue_token: Optional[str]) -> None:
        super().__init__(items)
        self.resource_version = resource_version
        self.continue_token = continue_token


class WatchEvent(NamedTuple):
    """One change seen by a watch: ADDED, MODIFIED or DELETED, and the object after it."""

    type: str
    object: Object


class ResourceService:
    """Calls the native resource routes of one server."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._kinds: Optional[List[ResourceKind]] = None

    def discovery(self) -> Object:
        """GET /api/v1: the APIResourceList; also refreshes the kind cache."""
        doc = self._transport.request("GET", API_PREFIX)
        resources = doc.get("resources")
        if not isinstance(resources, list):
            raise errors.Internal("the server's discovery document (GET /api/v1) has no 'resources' list")
        self._kinds = [_kind_from_discovery(r) for r in resources if isinstance(r, dict)]
        return doc

    def resolve(self, name: str) -> ResourceKind:
        """The kind called `name`; discovery is fetched on first use and again once if the name is unknown."""
        if not isinstance(name, str) or not name:
            raise errors.InvalidArgument("a kind must be a non-empty string such as 'configmaps'", field="kind")
        fetched = self._kinds is None
        if fetched:
            self.discovery()
        found = self._find(name)
        if found is None and not fetched:
            self.discovery()
            found = self._find(name)
        if found is not None:
            return found
        served = ", ".join(sorted(k.kind for k in self._kinds or [])) or "none"
        raise errors.NotFound(f"the server has no resource kind '{name}' (it serves: {served})", field="kind")

    def _find(self, name: str) -> Optional[ResourceKind]:
        return next((k for k in self._kinds or [] if k.matches(name)), None)

    def resolve_object(self, obj: Object) -> ResourceKind:
        """The kind of a manifest, by its `kind` and, among equals, its `apiVersion`."""
        if not isinstance(obj, dict):
            raise errors.InvalidArgument(f"a resource must be a mapping, not {type(obj).__name__}")
        kind_name = obj.get("kind")
        if not isinstance(kind_name, str) or not kind_name:
            raise errors.InvalidArgument("the object has no kind", field="kind")
        kind = self.resolve(kind_name)
        api_version = obj.get("apiVersion")
        candidates = [k for k in self._kinds or [] if k.kind == kind.kind]
        return next((k for k in candidates if k.api_version == api_version), kind)

    def path(self, kind: ResourceKind, namespace: Optional[str], name: Optional[str] = None,
             subresource: Optional[str] = None) -> str:
        """The URL path of a collection (name None) or of one object; namespace None means all namespaces."""
        parts = [API_PREFIX]
        if kind.namespaced and namespace is not None:
            parts += ["namespaces", _segment(namespace, "metadata.namespace")]
        parts.append(kind.name)
        if name is not None:
            parts.append(_segment(name, "metadata.name"))
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)

    def create(self, kind: ResourceKind, namespace: str, obj: Object) -> Object:
        """POST the object; returns it as stored."""
        return self._transport.request("POST", self.path(kind, namespace), body=obj)

    def get(self, kind: ResourceKind, namespace: str, name: str) -> Object:
        """GET one object."""
        return self._transport.request("GET", self.path(kind, namespace, name))

    def list_page(self, kind: ResourceKind, namespace: Optional[str], label_selector: Optional[str],
                  limit: Optional[int], continue_token: Optional[str]) -> ResourceList:
        """GET one page of a collection."""
        params = {"labelSelector": label_selector, "limit": limit, "continue": continue_token}
        doc = self._transport.request("GET", self.path(kind, namespace),
                                      params={k: str(v) for k, v in params.items() if v is not None})
        items, meta = doc.get("items"), doc.get("metadata")
        if not isinstance(items, list) or not isinstance(meta, dict):
            raise errors.Internal(f"the list of {kind.name} has no 'items' list or no 'metadata'")
        return ResourceList(items, str(meta.get("resourceVersion", "")), meta.get("continue") or None)

    def replace(self, kind: ResourceKind, namespace: str, name: str, obj: Object) -> Object:
        """PUT the object; the server checks metadata.resourceVersion when it is set."""
        return self._transport.request("PUT", self.path(kind, namespace, name), body=obj)

    def replace_status(self, kind: ResourceKind, namespace: str, name: str, obj: Object) -> Object:
        """PUT the status subresource."""
        return self._transport.request("PUT", self.path(kind, namespace, name, "status"), body=obj)

    def patch(self, kind: ResourceKind, namespace: str, name: str, patch: Object) -> Object:
        """PATCH with a JSON merge patch (RFC 7386)."""
        return self._transport.request("PATCH", self.path(kind, namespace, name), body=patch,
                                       content_type=MERGE_PATCH_TYPE)

    def delete(self, kind: ResourceKind, namespace: str, name: str, resource_version: Optional[str]) -> Object:
        """DELETE one object, if its resourceVersion is `resource_version` when that is given."""
        params = {} if resource_version is None else {"resourceVersion": str(resource_version)}
        return self._transport.request("DELETE", self.path(kind, namespace, name), params=params)

    def watch(self, kind: ResourceKind, namespace: Optional[str], resource_version: Optional[str],
              label_selector: Optional[str], timeout: Optional[float]) -> Iterator[WatchEvent]:
        """Streams the collection's changes as WatchEvents until the server ends the stream or `timeout` passes."""
        params = {"watch": "true"}
        if resource_version is not None:
            params["resourceVersion"] = str(resource_version)
        if label_selector is not None:
            params["labelSelector"] = label_selector
        parser = SseParser()
        for chunk in self._transport.stream(self.path(kind, namespace), params, timeout):
            for sse in parser.feed(chunk):
                yield _watch_event(sse.event, sse.data)


def _kind_from_discovery(r: Dict[str, Any]) -> ResourceKind:
    group = r.get("group") or ""
    version = r.get("version") or "v1"
    return ResourceKind(
        name=str(r.get("name", "")),
        singular_name=str(r.get("singularName", "")),
        kind=str(r.get("kind", "")),
        group=group,
        api_version=r.get("apiVersion") or (f"{group}/{version}" if group else version),
        namespaced=bool(r.get("namespaced", True)),
        short_names=tuple(r.get("shortNames") or ()),
        verbs=tuple(r.get("verbs") or ()),
    )


def _segment(value: str, field: str) -> str:
    # Quoting everything keeps a hostile name ("../x", "a?b") inside its own
    # path segment; the server then rejects it by name.
    if not isinstance(value, str) or not value:
        raise errors.InvalidArgument(f"{field} must be a non-empty string", field=field)
    return quote(value, safe="")


def _watch_event(event_name: str, data: str) -> WatchEvent:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise errors.Internal(f"a watch event's data is not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("object"), dict):
        raise errors.Internal("a watch event's data has no 'object'")
    event_type = doc.get("type")
    return WatchEvent(event_type if isinstance(event_type, str) else event_name, doc["object"])
