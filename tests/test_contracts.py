"""The typed contracts of the intermediate files: the one reader, its errors, and docs/outputs.md."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cocapp.contracts import CONTRACTS, JSON_CONTRACTS, ContractError, contracts_markdown, read

ROOT = Path(__file__).resolve().parents[1]


def test_docs_outputs_table_is_generated_from_the_contracts():
    text = (ROOT / "docs" / "outputs.md").read_text("utf-8")
    block = re.search(r"<!-- contracts:begin -->\n(.*)<!-- contracts:end -->", text, re.S)
    assert block, "docs/outputs.md lacks the generated contracts block"
    assert block.group(1) == contracts_markdown()


def _sections(text: str) -> dict[str, str]:
    """The ``### `` sections of docs/outputs.md after the generated table: each file named (in
    backticks) in a heading -> the section's text."""
    body = text.split("<!-- contracts:end -->", 1)[1]
    out = {}
    for part in re.split(r"\n(?=### )", body):
        if part.startswith("### "):
            head, _, rest = part.partition("\n")
            for name in re.findall(r"`([^`]+)`", head):
                out[name] = rest
    return out


def _documented(sections: dict[str, str], file: str, seen: tuple = ()) -> set[str]:
    """The names a file's section puts in backticks (with those of ``Columns as `other.csv` ``)."""
    text = sections[file]
    names = set(re.findall(r"`([^`\n]+)`", text))
    for other in re.findall(r"[Cc]olumns as `([^`]+)`", text):
        full = next((f for f in sections if f.endswith(other)), None)
        if full and full not in seen:
            names |= _documented(sections, full, (*seen, file))
    return names


def _bullet_names(text: str) -> list[str]:
    """The names a section's bullets document: backticked names before a bullet's first ``:``, `` =``
    or `` —`` (values in parentheses and file paths left out)."""
    names = []
    for line in text.splitlines():
        if line.startswith("- "):
            head = re.split(r": | = | — ", re.sub(r"\([^()]*\)", "", line[2:]), maxsplit=1)[0]
            names += [n for n in re.findall(r"`([^`\n]+)`", head) if "/" not in n]
    return names


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_docs_outputs_documents_every_column_of_each_contract(name):
    """docs/outputs.md has a section per contracted file naming every column of its contract (the
    column lists are tested against the contracts), and its bullets document no other column where
    the layout is fixed."""
    contract = CONTRACTS[name]
    sections = _sections((ROOT / "docs" / "outputs.md").read_text("utf-8"))
    assert contract.file in sections, f"docs/outputs.md: no section ### `{contract.file}`"
    undocumented = [c for c in contract.names if c not in _documented(sections, contract.file)]
    assert undocumented == [], f"{contract.file}: columns not documented in docs/outputs.md"
    if contract.extra is None:
        stray = [n for n in _bullet_names(sections[contract.file]) if n not in contract.names]
        assert stray == [], f"{contract.file}: docs/outputs.md documents columns not in the contract"


@pytest.mark.parametrize("name", list(JSON_CONTRACTS))
def test_docs_outputs_names_the_keys_of_each_json_contract(name):
    from cocapp.schemadoc import schema as load_schema

    contract = JSON_CONTRACTS[name]
    sections = _sections((ROOT / "docs" / "outputs.md").read_text("utf-8"))
    assert contract.file in sections
    keys = load_schema(contract.schema)["required"]
    assert [k for k in keys if f"`{k}`" not in sections[contract.file]] == []


_SAMPLE = {"str": "North", "int": "12", "float": "0.25", "bool": "True", "any": "1", "count": "<3"}


def write_sample(tmp_path: Path, name: str, n_rows: int = 3) -> Path:
    """A small valid file of contract ``name``: one typical value per column type."""
    names = CONTRACTS[name].names
    row = ",".join("0.5" if c == "threshold" else _SAMPLE[k] for c, k, _ in CONTRACTS[name].parsed())
    path = tmp_path / f"{name}.csv"
    path.write_text(",".join(names) + "\n" + "\n".join([row] * n_rows) + "\n")
    return path


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_a_file_of_every_contract_reads_back_typed(tmp_path, name):
    df = read(name, write_sample(tmp_path, name))
    assert list(df.columns) == CONTRACTS[name].names
    for col, kind, nullable in CONTRACTS[name].parsed():
        if kind in ("str", "count"):  # text stays text: "0.5" is not turned into 0.5, ids keep their zeros
            assert df[col].map(type).eq(str).all(), col
        else:  # numbers and flags of the contract's type, whatever the values (no repair by the reader)
            expected = {"int": "Int64" if nullable else "int64", "float": "float64", "bool": "boolean"}
            assert str(df[col].dtype) == expected.get(kind, str(df[col].dtype)), col


def test_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "g_items.csv"
    path.write_text("row,id,site,x_01\n1,007,North,3\n2,010,South,\n")
    df = read("items", path)
    assert df["id"].tolist() == ["007", "010"]
    assert df["x_01"].isna().tolist() == [False, True]


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ContractError, match=r"nothere\.csv: file not found"):
        read("anova", tmp_path / "nothere.csv")


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "anova.csv"
    path.write_text("")
    with pytest.raises(ContractError, match=r"anova\.csv: file is empty"):
        read("anova", path)


def test_missing_column_is_named(tmp_path):
    df = pd.read_csv(write_sample(tmp_path, "anova")).drop(columns=["welch_p"])
    path = tmp_path / "anova.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ContractError, match=r"column\(s\) \['welch_p'\] missing"):
        read("anova", path)


def test_bad_value_names_column_row_and_value(tmp_path):
    lines = write_sample(tmp_path, "anova").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("n")] = "many"
    lines[3] = ",".join(row)
    path = tmp_path / "anova.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ContractError) as err:
        read("anova", path)
    message = str(err.value)
    assert "anova.csv" in message and "column 'n', row 4" in message and "'many'" in message


def test_fractional_count_is_rejected(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "id,site,instrument,scale,threshold,score,items_answered,items_total,items_allowed_missing\n"
        "1,North,RSA,total,0.5,3.2,4.5,5,2\n"
    )
    with pytest.raises(ContractError, match=r"'items_answered', row 2: not a whole number"):
        read("scores", path)


def test_unexpected_column_is_rejected_where_the_layout_is_fixed(tmp_path):
    df = pd.read_csv(write_sample(tmp_path, "reliability"))
    df["surprise"] = 1
    path = tmp_path / "reliability.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ContractError, match="surprise"):
        read("reliability", path)


def _scores_file(tmp_path: Path) -> Path:
    """A scores file with what trips CSV parsers: leading zeros, thresholds written two ways, empty
    scores, long and tiny floats, negative zero."""
    values = ["", "4.2", "3.3333333333333335", "-0.0", "1e-300", "2.2250738585072014e-308", "0.1", "5"]
    lines = ["id,site,instrument,scale,threshold,score,items_answered,items_total,items_allowed_missing"]
    for i in range(400):
        t = ["0.0", "0.5", "0.50"][i % 3]
        lines.append(f"{i:05d},Site {i % 7},RSA,total,{t},{values[i % len(values)]},{i % 11},10,{i % 6}")
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name", ["scores", "anova", "descriptives"])
def test_large_files_read_through_pyarrow_give_the_same_frame(tmp_path, monkeypatch, name):
    pytest.importorskip("pyarrow")
    import cocapp.contracts as contracts

    path = _scores_file(tmp_path) if name == "scores" else write_sample(tmp_path, name, 50)
    expected = read(name, path)  # small: pandas' own parser
    monkeypatch.setattr(contracts, "ARROW_MIN_BYTES", 0)  # every file through pyarrow
    got = read(name, path)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert [type(v) for v in got["id" if "id" in got else got.columns[0]]] == [
        type(v) for v in expected["id" if "id" in expected else expected.columns[0]]
    ]


def test_a_file_pyarrow_cannot_read_gets_the_usual_error(tmp_path, monkeypatch):
    import cocapp.contracts as contracts

    path = _scores_file(tmp_path)
    path.write_text(path.read_text() + "99999,Site 1,RSA,total,0.5,4.0,10,10,2,surplus\n")
    with pytest.raises(Exception) as usual:
        read("scores", path)
    monkeypatch.setattr(contracts, "ARROW_MIN_BYTES", 0)
    with pytest.raises(type(usual.value)) as through_arrow:
        read("scores", path)
    assert str(through_arrow.value) == str(usual.value)
