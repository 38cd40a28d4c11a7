"""Instrument files: item columns as a pattern or an explicit list; subscales, total and reverse keying
by item position or column name; every mistake named with its file and key."""

import pytest
import yaml

from cocapp.instruments import InstrumentError, load_instrument

BIG5 = {
    "key": "B5",
    "name": "Five-factor short form",
    "columns": ["A1", "A2", "A3", "C1", "C2", "C3"],
    "response": {"min": 1, "max": 6},
    "score": {"kind": "sum"},
    "reverse_keyed": ["A1", 5],
    "subscales": {
        "agreeableness": {"label": "Agreeableness", "items": ["A1", "A2", "A3"]},
        "conscientiousness": {"label": "Conscientiousness", "items": [4, "C2", 6]},
    },
    "total": {"label": "A2 to C2", "items": ["A2", "A3", "C1", "C2"]},
}


def write(tmp_path, spec) -> object:
    folder = tmp_path / "instruments"
    folder.mkdir(exist_ok=True)
    (folder / f"{spec['key']}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), "utf-8")
    return folder


def test_named_columns_positions_and_names(tmp_path):
    inst = load_instrument("B5", [write(tmp_path, BIG5)])
    assert inst.n_items == 6 and inst.columns() == ["A1", "A2", "A3", "C1", "C2", "C3"]
    assert inst.columns([4, 6]) == ["C1", "C3"]
    assert {s.key: s.items for s in inst.scales} == {
        "agreeableness": (1, 2, 3),
        "conscientiousness": (4, 5, 6),
        "total": (2, 3, 4, 5),
    }
    assert inst.reverse_keyed == frozenset({1, 5})
    assert inst.score_kind == "sum" and inst.scale_range(inst.scale("total")) == (4.0, 24.0)
    # a config pattern (groups.<g>.item_columns) still overrides the file's columns
    assert inst.columns(pattern="b5_{item}") == [f"b5_{i}" for i in range(1, 7)]


def test_a_pattern_instrument_may_name_items_by_column(tmp_path):
    spec = {**BIG5, "key": "P3", "columns": None, "column_pattern": "p_{item:02d}", "items": 3}
    del spec["columns"]
    spec["reverse_keyed"] = ["p_02"]
    spec["subscales"] = {"first_two": {"items": ["p_01", 2]}}
    spec["total"] = {"items": "all"}
    inst = load_instrument("P3", [write(tmp_path, spec)])
    assert inst.reverse_keyed == frozenset({2})
    assert [s.items for s in inst.scales] == [(1, 2), (1, 2, 3)]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"column_pattern": "b_{item}"}, "key columns: give either columns or column_pattern, not both"),
        ({"items": 5}, "key items: 5 items, but columns lists 6 columns"),
        ({"columns": ["A1", "A1", "A3", "C1", "C2", "C3"]}, "key columns: ['A1'] listed twice"),
        ({"columns": None}, "key columns: None is not of type 'array'"),
        ({"reverse_keyed": ["N1"]}, "key reverse_keyed: 'N1' is not one of the instrument's columns"),
        (
            {"subscales": {"x": {"items": ["A1", "Z9"]}}},
            "key subscales/x/items: 'Z9' is not one of the instrument's columns",
        ),
        ({"total": {"items": ["A1", 9]}}, "key subscales/total: items [9] outside 1..6"),
        ({"subscales": {"x": {"items": ["A1", 1]}}}, "key subscales/x: an item is listed twice"),
    ],
)
def test_mistakes_name_file_and_key(tmp_path, change, message):
    folder = write(tmp_path, {**BIG5, **change})
    with pytest.raises(InstrumentError) as info:
        load_instrument("B5", [folder])
    assert str(info.value) == f"{folder / 'B5.yaml'}: {message}"


def test_neither_columns_nor_pattern(tmp_path):
    spec = {k: v for k, v in BIG5.items() if k != "columns"}
    spec["items"] = 6
    folder = write(tmp_path, spec)
    with pytest.raises(InstrumentError, match=r"B5.yaml: key column_pattern: needed \(or an explicit list"):
        load_instrument("B5", [folder])
