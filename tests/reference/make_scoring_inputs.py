"""Write tests/reference/inputs/scoring_items.csv: 300 generated respondents for the scoring golden test.

Run once (fixed seed); the output is committed and read by scoring.R (golden scores) and by
tests/test_scoring.py. Raw printed responses with 8 (not applicable), 9 (no response) and empty cells,
at rates that put many respondents exactly on the threshold boundaries.
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20161147)
n = 300
cols = {"RSA": ("rsa_{:02d}", 36, 1, 5), "STAR-P": ("starp_{:02d}", 12, 0, 4), "ES": ("es_{:02d}", 28, 1, 4)}
data = {"id": [f"R{i:03d}" for i in range(1, n + 1)], "site": rng.choice(["A", "B", "C"], n)}
for pattern, k, lo, hi in cols.values():
    rates, weights = [0.0, 0.05, 0.15, 0.3, 0.5, 0.8, 1.0], [0.3, 0.2, 0.15, 0.15, 0.1, 0.05, 0.05]
    miss_rate = rng.choice(rates, n, p=weights)
    for i in range(1, k + 1):
        x = rng.integers(lo, hi + 1, n).astype(float)
        m = rng.random(n) < miss_rate
        code = rng.choice([8.0, 9.0, np.nan], n)
        x[m] = code[m]
        data[pattern.format(i)] = x
df = pd.DataFrame(data)
out = Path(__file__).parent / "inputs" / "scoring_items.csv"
df.to_csv(out, index=False, lineterminator="\n", float_format="%.0f")
print(f"wrote {out} ({len(df)} rows)")
