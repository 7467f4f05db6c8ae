"""Loading resource manifests for `Client.apply`: a dict, a list of dicts, YAML/JSON text or a file.

YAML is read with PyYAML's safe loader minus its timestamp rule, so that a
manifest exported with `creationTimestamp: 2024-05-01T10:00:00Z` keeps the
string the server expects instead of becoming a Python datetime.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Union

import yaml

from . import errors

Manifest = Dict[str, Any]
Source = Union[Manifest, List[Manifest], str, "os.PathLike[str]"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ManifestLoader(_Loader):  # type: ignore[misc]
    pass


# Copy the resolver table before editing it: it is shared with SafeLoader.
_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}


def load_manifests(source: Source) -> List[Manifest]:
    """Returns the objects in `source`; a str is a file path if it names an existing file, else YAML/JSON text."""
    if isinstance(source, dict):
        return [source]
    if isinstance(source, list):
        return [_check(doc, f"item {i}") for i, doc in enumerate(source)]
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and
                                           os.path.isfile(source)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise errors.InvalidArgument(f"cannot read manifest file '{path}': {e}") from None
        return _parse(text, str(path))
    if isinstance(source, str):
        return _parse(source, "the manifest text")
    raise errors.InvalidArgument(
        f"apply takes a dict, a list of dicts, YAML/JSON text or a path, not {type(source).__name__}")


def _parse(text: str, origin: str) -> List[Manifest]:
    try:
        docs = [d for d in yaml.load_all(text, Loader=_ManifestLoader) if d is not None]
    except yaml.YAMLError as e:
        raise errors.InvalidArgument(f"{origin} is not valid YAML/JSON: {e}") from None
    if not docs:
        raise errors.InvalidArgument(f"{origin} holds no resources")
    if len(docs) == 1 and isinstance(docs[0], str) and "\n" not in text.strip():
        raise errors.InvalidArgument(f"'{text.strip()}' is neither an existing file nor a YAML/JSON resource")
    return [_check(doc, f"{origin}, document {i + 1}") for i, doc in enumerate(docs)]


def _check(doc: Any, where: str) -> Manifest:
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"{where} must be a mapping (a resource), not {type(doc).__name__}")
    for field in ("apiVersion", "kind"):
        if not isinstance(doc.get(field), str) or not doc[field]:
            raise errors.InvalidArgument(f"{where} has no {field}", field=field)
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        raise errors.InvalidArgument(f"{where} has no metadata.name", field="metadata.name")
    return doc
