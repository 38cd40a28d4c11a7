"""Write inputs/imputation_items.csv once: the care coordinators' RSA answers of the default synthetic
study (ingest output: 8/9 = missing codes, empty = missing) with site, age and gender, the dataset on
which tests/test_imputation.py compares cocapp's PMM with R mice's (tests/reference/imputation.R).
Run from the repository root after a default run: python tests/reference/make_imputation_inputs.py
"""

from pathlib import Path

import pandas as pd


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    items = pd.read_csv(root / "data/derived/ingest/care_coordinators_items.csv", dtype={"id": str})
    resp = pd.read_csv(root / "data/derived/ingest/care_coordinators_respondents.csv", dtype={"id": str})
    out = items[["id", "site"]].merge(resp[["id", "age", "gender"]], on="id", how="left")
    out = pd.concat([out, items[[c for c in items.columns if c.startswith("rsa_")]]], axis=1)
    out.to_csv(Path(__file__).parent / "inputs" / "imputation_items.csv", index=False)


if __name__ == "__main__":  # pytest --doctest-modules imports this file: do nothing then
    main()
