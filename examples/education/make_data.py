"""Make the simulated raw data of the example study (``python examples/education/make_data.py``).

Deterministic (seeded): 412 respondents in four education levels of unequal size, 12 of them with an
empty education cell; a 15-item five-factor personality short form with named columns (A1 ... O3) and a
5-item life-satisfaction scale (swls_1 ... swls_5, 1-7, scored as a sum); age and gender. Missingness
is not completely at random: item non-response rises with age and is higher in two levels, some answers
are the code 9 (no response), gender has a code 9 (prefer not to say), a few ages are blank and a few
respondents skipped the whole life-satisfaction page. The numbers describe no real people.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LEVELS = {"Primary": 70, "Secondary": 140, "Vocational": 90, "University": 100}
FACTORS = ["A", "C", "E", "N", "O"]
REVERSED = {"A2", "C3", "E2", "O3"}
SHIFT = {  # level effects on the latent factors (C, N) and on life satisfaction
    "Primary": (-0.20, 0.25, -0.35),
    "Secondary": (0.0, 0.0, 0.0),
    "Vocational": (0.10, -0.05, 0.05),
    "University": (0.25, -0.20, 0.35),
}


def ordinal(latent: np.ndarray, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """Latent (about N(0, 1)) + noise -> integer answers lo..hi."""
    mid, spread = (lo + hi) / 2, (hi - lo) / 4
    return np.clip(np.rint(mid + spread * (latent + rng.normal(0, 0.8, latent.shape))), lo, hi).astype(int)


def main(seed: int = 20261203) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    level_of = [lv for lv, n in LEVELS.items() for _ in range(n)] + [""] * 12
    rng.shuffle(level_of)
    for i, level in enumerate(level_of):
        c_shift, n_shift, s_shift = SHIFT.get(level, (0.0, 0.0, 0.0))
        latent = rng.normal(0, 1, 5) + np.array([0, c_shift, 0, n_shift, 0])
        age = int(np.clip(rng.normal(42, 14), 18, 85))
        gender = int(rng.choice([1, 2, 3, 9], p=[0.49, 0.46, 0.02, 0.03]))
        row = {"resp_id": f"E{i + 1:04d}", "education": level, "age": age, "gender": gender}
        for f, z in zip(FACTORS, latent, strict=True):
            for j in (1, 2, 3):
                col = f"{f}{j}"
                answer = ordinal(np.array([-z if col in REVERSED else z]), 1, 5, rng)[0]
                row[col] = answer
        swb = 0.5 * latent[2] - 0.45 * latent[3] + s_shift + rng.normal(0, 0.8)
        for j in range(1, 6):
            row[f"swls_{j}"] = ordinal(np.array([swb]), 1, 7, rng)[0]
        rows.append(row)
    data = pd.DataFrame(rows)
    items = [f"{f}{j}" for f in FACTORS for j in (1, 2, 3)] + [f"swls_{j}" for j in range(1, 6)]
    data = data[["resp_id", "education", "age", "gender", *items]].astype(object)
    # item non-response: more with age, more in Primary and Vocational
    p_miss = (
        0.02
        + 0.0012 * (data["age"].astype(float) - 18)
        + data["education"].map({"Primary": 0.03, "Vocational": 0.02}).fillna(0.0)
    )
    for col in items:
        hit = rng.random(len(data)) < p_miss
        code9 = rng.random(len(data)) < 0.25
        data.loc[hit & code9, col] = 9
        data.loc[hit & ~code9, col] = ""
    skipped = rng.choice(len(data), 6, replace=False)  # skipped the life-satisfaction page
    data.loc[skipped, [f"swls_{j}" for j in range(1, 6)]] = ""
    data.loc[rng.choice(len(data), 8, replace=False), "age"] = ""
    data.to_csv(HERE / "data" / "raw" / "survey.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
