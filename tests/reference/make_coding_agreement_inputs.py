"""Write tests/reference/inputs/coding_agreement_segments.csv: coded intervals of three coders on two
sources (seeded, so the file is reproducible), for tests/reference/coding_agreement.R.

Run from the repository root: python tests/reference/make_coding_agreement_inputs.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
rng = np.random.default_rng(20261203)
sources = {"int_A": 500, "int_B": 1200}
codes = ["Care/trust", "Care/listening", "System/paperwork", "System/forms"]
rows = []
for source, n in sources.items():
    for code in codes:
        for coder in ["alice", "bob", "carol"]:
            if code == "System/forms" and coder != "alice":
                continue  # coded by one coder only
            for _ in range(int(rng.integers(1, 5))):
                start = int(rng.integers(0, n - 20))
                end = int(min(n, start + rng.integers(5, 200)))
                rows.append(
                    {
                        "source_id": source,
                        "n_characters": n,
                        "code_path": code,
                        "coder": coder,
                        "start": start,
                        "end": end,
                    }
                )
# identical coding by all three coders of one passage
for coder in ["alice", "bob", "carol"]:
    rows.append(
        {
            "source_id": "int_A",
            "n_characters": 500,
            "code_path": "Care/identical",
            "coder": coder,
            "start": 100,
            "end": 180,
        }
    )
pd.DataFrame(rows).to_csv(HERE / "inputs" / "coding_agreement_segments.csv", index=False)
