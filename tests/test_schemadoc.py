"""The reference docs (docs/config.md, docs/instruments.md, docs/codebook.md) are generated from the
schemas: every key documented with its type, default and a description, and the docs in step."""

from pathlib import Path

import pytest

from cocapp.schemadoc import DOCS, reference_rows, schema, update_docs

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {
    "$schema", "$ref", "description", "type", "additionalProperties", "required", "definitions",
    "properties", "items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "pattern", "propertyNames", "enum", "default", "minLength", "oneOf", "anyOf",
    "const", "minProperties",
}  # fmt: skip


def test_docs_are_in_step_with_the_schemas():
    assert update_docs(ROOT, check=True) == [], "run: python -m cocapp.schemadoc"


@pytest.mark.parametrize("name", list(DOCS))
def test_every_key_has_a_description(name):
    rows = reference_rows(schema(name), DOCS[name][1])
    assert rows and [key for key, _, _, desc in rows if not desc] == []


@pytest.mark.parametrize("name", list(DOCS))
def test_no_stray_keywords(name):
    """A comma inside an unquoted flow-mapping description splits it into a stray key (YAML)."""
    stray = []

    def walk(node, path, names=False):
        if isinstance(node, dict):
            for key, value in node.items():
                if not names and key not in KEYWORDS:
                    stray.append(f"{path}/{key}")
                if names or key not in ("default", "const", "enum"):  # values, not schemas
                    walk(value, f"{path}/{key}", names=key in ("properties", "definitions") and not names)
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    walk(schema(name), name)
    assert stray == []


def test_a_config_row_reads_as_documented():
    rows = {
        key: (kind, default) for key, kind, default, _ in reference_rows(schema("config"), DOCS["config"][1])
    }
    assert rows["groups.<group>.raw"][1] == "required"
    assert rows["grouping.unknown"] == ("one of `error`, `exclude`", '`"error"`')
    assert rows["imputation.m"] == ("integer", "`20`")
