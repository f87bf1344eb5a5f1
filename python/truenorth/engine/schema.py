"""JSON Schema of the pack format, including every installed rule kind's options.

Editors (VS Code YAML extension, IntelliJ) use it for completion and inline errors::

    # yaml-language-server: $schema=truenorth-pack.schema.json
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .plugins import Registry
from .spec import PackFile, RuleSpec


def pack_schema(registry: Registry) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for one pack file; rules are discriminated by ``kind``."""
    schema = PackFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "truenorth rule pack"
    defs = schema.setdefault("$defs", {})
    base_rule = RuleSpec.model_json_schema(by_alias=True)
    for name, d in base_rule.get("$defs", {}).items():
        defs.setdefault(name, d)
    variants = []
    for kind_name in sorted(registry.kinds):
        kind = registry.kinds[kind_name]
        opts = kind.options_model.model_json_schema(by_alias=True)
        for name, d in opts.pop("$defs", {}).items():
            defs.setdefault(f"{kind.options_model.__name__}_{name}", d)
            _rename_refs(opts, name, f"{kind.options_model.__name__}_{name}")
        rule = copy.deepcopy({k: v for k, v in base_rule.items() if k != "$defs"})
        rule["title"] = f"rule of kind {kind_name}"
        rule["description"] = kind.summary
        rule["properties"]["kind"] = {"const": kind_name, "description": kind.summary}
        rule["properties"]["with"] = opts
        defs[f"rule_{kind_name}"] = rule
        variants.append({"$ref": f"#/$defs/rule_{kind_name}"})
    if variants:
        schema["properties"]["rules"]["items"] = {"oneOf": variants}
    return schema


def _rename_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and v == f"#/$defs/{old}":
                node[k] = f"#/$defs/{new}"
            else:
                _rename_refs(v, old, new)
    elif isinstance(node, list):
        for v in node:
            _rename_refs(v, old, new)


def schema_type(prop: dict[str, Any]) -> str:
    """A JSON Schema property as a short type (``integer | null``, ``"a" | "b"``,
    ``list[string]``, ``map[string, number]``): what ``truenorth kinds KIND`` and the generated
    reference pages print for each option.

    >>> schema_type({"anyOf": [{"type": "integer"}, {"type": "null"}]})
    'integer | null'
    >>> schema_type({"type": "object", "additionalProperties": {"type": "number"}})
    'map[string, number]'
    """
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " | ".join(dict.fromkeys(schema_type(p) for p in prop[key]))
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    t = prop.get("type", "any")
    if t == "string" and prop.get("format") in ("date", "date-time"):
        return str(prop["format"])
    if t == "array":
        return f"list[{schema_type(prop.get('items', {}))}]"
    if t == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map[string, {schema_type(prop['additionalProperties'])}]"
    return str(t)
