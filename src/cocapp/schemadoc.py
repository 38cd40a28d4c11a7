"""Reference documentation generated from the JSON schemas (config, instrument file, codebook).

One Markdown table per schema: every key as a dotted path (``groups.<group>.raw``; ``[]`` for a
list's entries), its type, its default and its description, in schema order. The tables sit in
``docs/config.md``, ``docs/instruments.md`` and ``docs/codebook.md`` between the markers
``<!-- schema:NAME -->`` and ``<!-- /schema:NAME -->``; ``python -m cocapp.schemadoc`` rewrites them
and ``tests/test_schemadoc.py`` fails when they are out of step with the schemas.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path

from cocapp import yamlio

__all__ = ["DOCS", "reference_rows", "reference_table", "schema", "update_docs"]

# schema name -> (document, the placeholder shown for an entry of a mapping with free keys)
DOCS = {
    "config": (
        "docs/config.md",
        {"groups": "<group>", "covariates": "<covariate>", "ancova_models": "<model>"},
    ),
    "instrument": ("docs/instruments.md", {"subscales": "<subscale>", "scales": "<scale>"}),
    "codebook": ("docs/codebook.md", {}),
}


def schema(name: str) -> dict:
    """The schema ``cocapp/schemas/<name>.schema.yaml`` as a dict."""
    text = resources.files("cocapp.schemas").joinpath(f"{name}.schema.yaml").read_text("utf-8")
    return yamlio.safe_load(text)


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        path = node["$ref"].removeprefix("#/").split("/")
        target = root
        for part in path:
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _type_text(node: dict, root: dict) -> str:
    node = _resolve(node, root)
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "oneOf" in node or "anyOf" in node:
        return " or ".join(_type_text(n, root) for n in node.get("oneOf") or node["anyOf"])
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for k in kinds:
        if k == "array" and isinstance(node.get("items"), dict):
            words.append(f"list of {_type_text(node['items'], root)}")
        elif (
            k == "object"
            and isinstance(node.get("additionalProperties"), dict)
            and not node.get("properties")
        ):
            words.append(f"mapping to {_type_text(node['additionalProperties'], root)}")
        else:
            words.append({"object": "mapping", "array": "list", "null": "null"}.get(k, k))
    return " or ".join(words)


def _default_text(node: dict, required: bool) -> str:
    if "default" in node:
        return f"`{json.dumps(node['default'])}`"
    return "required" if required else "—"


def reference_rows(root: dict, placeholders: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` of every key of the schema ``root``, depth first."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(node: dict, prefix: str) -> None:
        node = _resolve(node, root)
        required = set(node.get("required") or [])
        for name, sub in (node.get("properties") or {}).items():
            sub = _resolve(sub, root)
            path = f"{prefix}{name}"
            desc = " ".join(str(sub.get("description", "")).split())
            rows.append((path, _type_text(sub, root), _default_text(sub, name in required), desc))
            extra = sub.get("additionalProperties")
            if sub.get("properties"):
                walk(sub, path + ".")
            elif isinstance(extra, dict) and _resolve(extra, root).get("properties"):
                walk(extra, f"{path}.{placeholders.get(name, '<key>')}.")
            items = sub.get("items")
            if isinstance(items, dict) and _resolve(items, root).get("properties"):
                walk(items, path + "[].")

    walk(root, "")
    return rows


def reference_table(name: str) -> str:
    """The Markdown table of schema ``name`` (see module docstring)."""
    _, placeholders = DOCS[name]
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, kind, default, desc in reference_rows(schema(name), placeholders):
        cells = [f"`{key}`", kind, default, desc]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _marked(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- schema:{name} -->\n)(?:.*?\n)?(<!-- /schema:{name} -->)", re.S)


def update_docs(root: Path, check: bool = False) -> list[str]:
    """Rewrite (or, with ``check``, only compare) the generated tables in the docs under ``root``;
    returns the documents that were (or would be) changed."""
    changed = []
    for name, (doc, _) in DOCS.items():
        path = root / doc
        text = path.read_text("utf-8")
        pattern = _marked(name)
        if not pattern.search(text):
            raise ValueError(f"{path}: no <!-- schema:{name} --> ... <!-- /schema:{name} --> markers")
        new = pattern.sub(lambda m, n=name: m.group(1) + reference_table(n) + "\n" + m.group(2), text)
        if new != text:
            changed.append(doc)
            if not check:
                path.write_text(new, "utf-8")
    return changed


if __name__ == "__main__":  # python -m cocapp.schemadoc [--check] [repository folder]
    args = sys.argv[1:]
    check = "--check" in args
    folders = [a for a in args if a != "--check"]
    out = update_docs(Path(folders[0] if folders else "."), check)
    print("\n".join(out) or "docs in step with the schemas")
    raise SystemExit(1 if check and out else 0)
