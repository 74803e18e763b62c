"""Validate request bodies against LINE's official OpenAPI (``../shared/reference/line``).

jsonschema does not know OpenAPI's ``discriminator``; without it every message would only be
checked against the base ``Message`` schema (just ``type``), which proves nothing. So a
``discriminator`` keyword is added: it follows the mapping (``text`` → ``TextMessage``…) and
validates against the mapped schema. The mapped schemas extend the base with
``allOf: [$ref base, …]``; those references are pointed at a copy of the base without the
discriminator, so the check does not recurse forever.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_DIR = REPO_ROOT.parent / "shared" / "reference" / "line"
URI = "urn:line:messaging-api"
_PREFIX = "#/components/schemas/"


def spec_path(name: str) -> Path:
    path = SPEC_DIR / name
    if not path.is_file():
        pytest.fail(
            f"LINE reference file {path} is missing: the LINE tests validate against the "
            "official OpenAPI in shared/reference/line, expected beside the clone at ../shared"
        )
    return path


def _discriminator(validator: Any, disc: dict[str, Any], instance: Any, schema: Any) -> Any:
    if not isinstance(instance, dict):
        return
    name = disc["propertyName"]
    mapping = disc.get("mapping") or {}
    value = instance.get(name)
    if value not in mapping:
        yield ValidationError(f"{name}={value!r} is not one of {sorted(mapping)}")
        return
    yield from validator.descend(instance, {"$ref": mapping[value]})


_Validator = validators.extend(Draft202012Validator, {"discriminator": _discriminator})


def _prepare(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    for name, schema in list(schemas.items()):
        disc = schema.get("discriminator")
        if not disc:
            continue
        base = {k: v for k, v in schema.items() if k != "discriminator"}
        schemas[f"{name}__base"] = base
        for target in (disc.get("mapping") or {}).values():
            mapped = schemas[target.removeprefix(_PREFIX)]
            for part in mapped.get("allOf", []):
                if part.get("$ref") == f"{_PREFIX}{name}":
                    part["$ref"] = f"{_PREFIX}{name}__base"
    return spec


class LineOpenApi:
    """Request-body schemas of the Messaging API, by operation or by component name."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = _prepare(spec)
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(URI, resource)
        self.operations: list[tuple[str, re.Pattern[str], str | None]] = []
        for template, item in self.spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in item.items():
                if not isinstance(op, dict):
                    continue
                content = (op.get("requestBody") or {}).get("content") or {}
                schema = (content.get("application/json") or {}).get("schema") or {}
                self.operations.append((method.upper(), pattern, schema.get("$ref")))

    def operation(self, method: str, path: str) -> tuple[bool, str | None]:
        """(known operation?, its JSON body schema ref)."""
        for m, pattern, ref in self.operations:
            if m == method.upper() and pattern.match(path):
                return True, ref
        return False, None

    def errors(self, ref: str, instance: Any) -> list[str]:
        """Every schema violation of ``instance`` against ``ref`` (``#/components/…`` or a name)."""
        if not ref.startswith("#"):
            ref = f"{_PREFIX}{ref}"
        validator = _Validator({"$ref": f"{URI}{ref}"}, registry=self.registry)
        found = (
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:200]}"
            for e in validator.iter_errors(instance)
        )
        return list(dict.fromkeys(found))

    def request_errors(self, method: str, path: str, body: Any) -> list[str]:
        """Problems with a request LINE would receive (unknown endpoints count as one)."""
        known, ref = self.operation(method, path)
        if not known:
            return [f"{method} {path} is not an operation of the Messaging API"]
        if ref is None:
            return [] if body is None else [f"{method} {path} takes no JSON body"]
        return self.errors(ref, body)


@cache
def messaging_api() -> LineOpenApi:
    with spec_path("messaging-api.yml").open(encoding="utf-8") as f:
        return LineOpenApi(yaml.safe_load(f))


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def limit_errors(body: Any, where: str = "") -> list[str]:
    """LINE's documented limits that the OpenAPI file leaves out: labels ≤ 20 characters,
    ≤ 13 quick replies, ≤ 5 messages, texts ≤ 5000, altText ≤ 400, URIs http(s)/tel/line."""
    errors: list[str] = []
    if isinstance(body, list):
        for i, item in enumerate(body):
            errors += limit_errors(item, f"{where}/{i}")
        return errors
    if not isinstance(body, dict):
        return errors
    checks = [
        ("label", 20),
        ("text", 5000),
        ("altText", 400),
        ("displayText", 300),
        ("data", 300),
    ]
    for key, limit in checks:
        value = body.get(key)
        if key == "text" and body.get("type") == "message":
            limit = 300  # a message action's text
        if isinstance(value, str) and _utf16(value) > limit:
            errors.append(f"{where}/{key}: {_utf16(value)} characters (LINE allows {limit})")
    if body.get("type") == "uri":
        uri = body.get("uri")
        if (
            not isinstance(uri, str)
            or not re.match(r"^(https?://|tel:|line://)", uri)
            or len(uri) > 1000
        ):
            errors.append(
                f"{where}/uri: {uri!r} is not an http(s), tel or line URI of ≤ 1000 characters"
            )
    messages = body.get("messages")
    if isinstance(messages, list) and not 1 <= len(messages) <= 5:
        errors.append(f"{where}/messages: {len(messages)} messages (LINE allows 1–5)")
    items = (
        (body.get("quickReply") or {}).get("items")
        if isinstance(body.get("quickReply"), dict)
        else None
    )
    if isinstance(items, list) and len(items) > 13:
        errors.append(f"{where}/quickReply: {len(items)} items (LINE allows 13)")
    for key, value in body.items():
        errors += limit_errors(value, f"{where}/{key}")
    return errors
