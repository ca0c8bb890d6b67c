"""Encoding of byte strings in JSON: UTF-8 text when possible, base64 in a `<name>_b64` field otherwise."""

from __future__ import annotations

import base64
from typing import Any


def decode_b64_fields(data: Any, names: tuple[str, ...]) -> Any:
    """Turn `<name>_b64` keys (and `<name>` text) of a raw dict into bytes under `<name>`."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for name in names:
        encoded = data.pop(f"{name}_b64", None)
        if encoded is not None:
            if name in data:
                raise ValueError(f"both {name!r} and {name + '_b64'!r} are given")
            data[name] = _b64decode(encoded, name)
        elif isinstance(data.get(name), str):
            data[name] = data[name].encode("utf-8")
    return data


def decode_b64_mapping(data: Any, name: str) -> Any:
    """Merge `<name>` (text values) and `<name>_b64` (base64 values) mappings into one of bytes."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    text = data.pop(name, None) or {}
    encoded = data.pop(f"{name}_b64", None) or {}
    if not isinstance(text, dict) or not isinstance(encoded, dict):
        raise ValueError(f"{name!r} must be a mapping of file name to content")
    merged: dict[str, bytes] = {}
    for key, value in text.items():
        merged[key] = value.encode("utf-8") if isinstance(value, str) else value
    for key, value in encoded.items():
        if key in merged:
            raise ValueError(f"file {key!r} is given both as text and as base64")
        merged[key] = _b64decode(value, f"{name}_b64[{key!r}]")
    data[name] = merged
    return data


def encode_bytes(out: dict[str, Any], name: str, value: bytes) -> None:
    """Store `value` in `out` as text under `name`, or as base64 under `<name>_b64`."""
    try:
        out[name] = value.decode("utf-8")
    except UnicodeDecodeError:
        out[f"{name}_b64"] = base64.b64encode(value).decode("ascii")


def encode_mapping(out: dict[str, Any], name: str, mapping: dict[str, bytes]) -> None:
    """Store a file mapping as `name` (text values) plus `<name>_b64` (the rest), omitting empty parts."""
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in mapping.items():
        try:
            text[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode("ascii")
    if text:
        out[name] = text
    if binary:
        out[f"{name}_b64"] = binary


def _b64decode(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{where}: base64 value must be a string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{where}: invalid base64 ({exc})") from None
