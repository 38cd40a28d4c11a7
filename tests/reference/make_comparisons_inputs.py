"""Write the committed inputs of the comparisons golden test (run once; fixed seed).

    python tests/reference/make_comparisons_inputs.py

Outputs (read by comparisons.R and tests/test_anova.py, test_posthoc.py, test_ancova.py,
test_correlation.py):
- inputs/comparisons_scores.csv: long scores (id, site, instrument, scale, threshold, score) of 186
  generated respondents at six sites with unequal n, unequal variances and site effects; some scores
  missing. ES/self_esteem_self_efficacy is an edge case: Languedoc has one score, Provence none.
- inputs/comparisons_respondents.csv: id, site and the service-user covariates (age, gender, ethnicity,
  relationship_status, years_in_services), with missing values; gender "Other" is rare so that
  site x gender cells are empty (rank-deficient slopes model).
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20160147)
sites = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
n_site = [31, 38, 22, 35, 27, 33]
sd_site = [0.55, 0.40, 0.75, 0.60, 0.45, 0.90]
effect = [0.0, 0.35, -0.1, 0.05, 0.15, -0.3]
site = np.repeat(sites, n_site)
n = len(site)
idx = np.repeat(np.arange(6), n_site)
ids = [f"U{i:04d}" for i in rng.permutation(np.arange(1, n + 1))]

age = np.round(rng.normal(44, 12, n), 1)
age[rng.random(n) < 0.05] = np.nan
gender = rng.choice(["Female", "Male", "Other"], n, p=[0.52, 0.45, 0.03]).astype(object)
gender[rng.random(n) < 0.03] = None
ethnicity = rng.choice(["White", "Black", "Asian", "Mixed"], n, p=[0.7, 0.12, 0.12, 0.06]).astype(object)
relationship = rng.choice(["Single", "Partner", "Separated"], n, p=[0.5, 0.35, 0.15]).astype(object)
relationship[rng.random(n) < 0.04] = None
years = np.round(rng.gamma(2.0, 5.0, n), 2)
years[rng.random(n) < 0.06] = np.nan

latent = rng.normal(0, 1, n)
common = np.array(effect)[idx] + 0.01 * np.nan_to_num(age - 44) + 0.15 * (gender == "Male")
rows = []
outcomes = [
    ("RSA", "life_goals", 3.4, 1.0, 0.9),
    ("RSA", "total", 3.3, 0.8, 0.9),
    ("STAR-P", "total", 35.0, 6.0, 0.8),
    ("ES", "self_esteem_self_efficacy", 2.6, 0.5, 0.2),
    ("ES", "total", 2.6, 0.3, 0.25),
]
for inst, scale, mu, scale_sd, load in outcomes:
    noise = rng.normal(0, 1, n) * np.array(sd_site)[idx]
    y = mu + scale_sd * (common + load * latent * 0.6 + noise)
    y[rng.random(n) < 0.07] = np.nan
    if scale == "self_esteem_self_efficacy":
        lang = np.flatnonzero(site == "Languedoc")
        y[lang[1:]] = np.nan
        y[site == "Provence"] = np.nan
    for i in range(n):
        rows.append(
            {
                "id": ids[i],
                "site": site[i],
                "instrument": inst,
                "scale": scale,
                "threshold": "0.5",
                "score": y[i],
            }
        )
scores = pd.DataFrame(rows)
resp = pd.DataFrame(
    {
        "row": np.arange(1, n + 1),
        "id": ids,
        "site": site,
        "age": age,
        "gender": gender,
        "ethnicity": ethnicity,
        "relationship_status": relationship,
        "years_in_services": years,
    }
)
out = Path(__file__).parent / "inputs"
scores.to_csv(out / "comparisons_scores.csv", index=False, lineterminator="\n")
resp.to_csv(out / "comparisons_respondents.csv", index=False, lineterminator="\n")
print(f"wrote {len(scores)} score rows and {len(resp)} respondents to {out}")
