"""Respondents, covariates and the missing-answer pattern of the synthetic default.

Three pieces, all drawn from one seeded generator so that a seed reproduces the data exactly:

1. **Covariates** with plausible UK distributions and site-to-site variation (documented in
   ``docs/synthetic.md``; categories in :data:`CATEGORIES`).
2. **Latent person factors** (one per instrument, correlated across instruments, with modest covariate
   effects) that drive both the answers and the missingness, so that missingness is *not* at random.
3. **The missingness pattern**, constructed deliberately: per respondent and per block of items (a
   subscale, or RSA's items in no subscale) a number of missing answers is chosen so that, for every scale,
   the count of complete cases equals the N printed with its alpha and the count scored at the primary
   threshold equals df2 + 6 of its printed F test; instrument totals scored together match Table 4's
   pairwise n. Counts are first assigned from a missingness propensity (site, age, time in services, the
   latent factor), then repaired by a small integer local search that only accepts moves that do not
   increase the count mismatch. Which items within a block are missing follows per-item weights (some
   items far more often missing), and the code used (8 not applicable / don't know, 9 no response,
   system-missing) depends on the instrument.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor

import numpy as np

__all__ = ["CATEGORIES", "Block", "draw_covariates", "missing_counts", "place_missing", "venn_totals"]

# Categorical covariate codes (value labels in the .sav and the codebook).
CATEGORIES: dict[str, dict[int, str]] = {
    "gender": {1: "Male", 2: "Female", 3: "Other / prefer not to say"},
    "ethnicity": {
        1: "White British or Irish",
        2: "White other",
        3: "Black or Black British",
        4: "Asian or Asian British",
        5: "Mixed or other ethnic group",
    },
    "relationship_status": {
        1: "Single",
        2: "Married or cohabiting",
        3: "Separated, divorced or widowed",
    },
}

# Site-level variation in the populations served (index = config site order). Burgundy and Champagne are
# the Welsh sites; Champagne has an ethnically diverse urban area (paper, Table 1), Provence is large/urban.
_SU_AGE_MEAN = [44.0, 47.0, 45.0, 43.0, 46.0, 41.0]
_WHITE_BRITISH = [0.86, 0.95, 0.85, 0.83, 0.90, 0.72]
_SU_FEMALE = [0.47, 0.52, 0.50, 0.44, 0.49, 0.46]
_CC_AGE_MEAN = [44.0, 46.0, 45.0, 42.0, 44.0, 43.0]
_CC_FEMALE = [0.62, 0.66, 0.60, 0.58, 0.68, 0.61]


def _other_ethnicity(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([2, 3, 4, 5], size=n, p=[0.30, 0.30, 0.25, 0.15])


def draw_covariates(group: str, site_idx: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Covariates for one group (floats; NaN = not answered). Ranges stay inside the config limits.

    Service users: age 18-85 (site means 41-47, SD 12.5), gender, ethnicity (White British/Irish 72-95 %
    by site), relationship status (mostly single), years in services (gamma, below age - 15).
    Care coordinators: age 24-65, gender (about 62 % female), ethnicity, years in services (gamma, below
    age - 21) and years as care coordinator (a share of years in services, so never above it).
    """
    n = site_idx.size
    out: dict[str, np.ndarray] = {}
    u = rng.random(n)
    if group == "service_users":
        age = np.clip(np.round(np.take(_SU_AGE_MEAN, site_idx) + 12.5 * rng.standard_normal(n)), 18, 85)
        female = np.take(_SU_FEMALE, site_idx)
        gender = np.where(u < 0.02, 3, np.where(u < 0.02 + female, 2, 1))
        white = rng.random(n) < np.take(_WHITE_BRITISH, site_idx)
        eth = np.where(white, 1, _other_ethnicity(rng, n))
        r = rng.random(n)
        p_married = np.clip(0.12 + 0.004 * (age - 20), 0.1, 0.4)
        p_sep = np.clip(0.05 + 0.005 * (age - 20), 0.05, 0.35)
        rel = np.where(r < p_married, 2, np.where(r < p_married + p_sep, 3, 1))
        years = np.minimum(np.round(rng.gamma(2.0, 6.0, n)), age - 15)
        out = {
            "age": age,
            "gender": gender,
            "ethnicity": eth,
            "relationship_status": rel,
            "years_in_services": years,
        }
        p_missing = [0.02, 0.01, 0.03, 0.03, 0.04]
    else:
        age = np.clip(np.round(np.take(_CC_AGE_MEAN, site_idx) + 9.0 * rng.standard_normal(n)), 24, 65)
        female = np.take(_CC_FEMALE, site_idx)
        gender = np.where(u < 0.015, 3, np.where(u < 0.015 + female, 2, 1))
        white = rng.random(n) < np.take(_WHITE_BRITISH, site_idx) - 0.03
        eth = np.where(white, 1, _other_ethnicity(rng, n))
        years = np.minimum(np.round(rng.gamma(3.0, 4.5, n)), age - 21)
        share = rng.beta(3.0, 2.0, n)
        years_cc = np.floor(years * share)
        out = {
            "age": age,
            "gender": gender,
            "ethnicity": eth,
            "years_in_services": years,
            "years_as_care_coordinator": years_cc,
        }
        p_missing = [0.015, 0.005, 0.02, 0.02, 0.025]
    for (name, values), p in zip(out.items(), p_missing, strict=True):
        values = values.astype(float)
        values[rng.random(n) < p] = np.nan
        out[name] = values
    return out


def allowed_missing(k: int, threshold: Fraction) -> int:
    """floor(t * k) in exact arithmetic."""
    return floor(threshold * k)


@dataclass
class Block:
    """A block of items scored together (a subscale) or RSA's items in no subscale (``scored=False``)."""

    key: str
    items: tuple[int, ...]
    complete_target: int = 0
    scored_target: int = 0
    scored: bool = True

    @property
    def k(self) -> int:
        return len(self.items)


def venn_totals(
    n: int,
    sizes: dict[str, int],
    pairs: dict[tuple[str, str], int],
    propensity: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Which respondents have a total score on each of three instruments (boolean per instrument).

    ``sizes``: number scored on each total; ``pairs``: number scored on both totals of each pair (Table 4).
    The triple overlap is the largest value the pair counts allow (keeps the scored sets nested, as in real
    questionnaires where a respondent who stops early misses every later instrument). Respondents are
    allotted to the Venn cells by their missingness propensity (high propensity -> not scored).
    """
    a, b, c = list(sizes)
    ab, ac, bc = pairs[(a, b)], pairs[(a, c)], pairs[(b, c)]
    lo = max(ab + ac - sizes[a], ab + bc - sizes[b], ac + bc - sizes[c], 0)
    hi = min(ab, ac, bc)
    triple = hi
    cells = {
        (1, 1, 1): triple,
        (1, 1, 0): ab - triple,
        (1, 0, 1): ac - triple,
        (0, 1, 1): bc - triple,
        (1, 0, 0): sizes[a] - ab - ac + triple,
        (0, 1, 0): sizes[b] - ab - bc + triple,
        (0, 0, 1): sizes[c] - ac - bc + triple,
    }
    cells[(0, 0, 0)] = n - sum(cells.values())
    if min(cells.values()) < 0 or lo > hi:
        raise ValueError(f"pairwise counts {pairs} are inconsistent with totals {sizes} for n = {n}")
    overall = propensity[a] + propensity[b] + propensity[c]
    member = {k: np.ones(n, dtype=bool) for k in (a, b, c)}
    free = np.ones(n, dtype=bool)

    def take(count: int, score: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(free)
        chosen = idx[np.argsort(-score[idx], kind="stable")[:count]]
        free[chosen] = False
        return chosen

    noise = 0.3 * rng.standard_normal(n)
    for key, count in sorted(cells.items(), key=lambda kv: sum(kv[0])):
        if key == (1, 1, 1):
            continue
        missing = [inst for inst, flag in zip((a, b, c), key, strict=True) if not flag]
        score = sum(propensity[m] for m in missing) + noise if missing else -overall
        chosen = take(count, score)
        for inst, flag in zip((a, b, c), key, strict=True):
            member[inst][chosen] = bool(flag)
    return member


def missing_counts(
    blocks: list[Block],
    total_allow: int,
    total_complete: int,
    total_scored: np.ndarray,
    propensity: np.ndarray,
    rng: np.random.Generator,
    max_iter: int = 400_000,
    site: np.ndarray | None = None,
    partial_per_site: int = 0,
) -> np.ndarray:
    """Number of missing answers per respondent and block, meeting every count target exactly.

    A scale is scored when its missing count is at most floor(t k) (``allow``) and it has an answer; it is
    complete when nothing is missing. Targets: per scored block its complete and scored counts; for the
    instrument total the complete count, and per respondent whether the total is scored
    (``total_scored``, from :func:`venn_totals`). Initial counts follow ``propensity`` (higher -> more
    missing); a local search then changes one count at a time, accepting a change only when the mismatch
    (sum of absolute count errors plus per-respondent violations) does not grow.
    """
    n = propensity.size
    nb = len(blocks)
    ks = np.array([b.k for b in blocks])
    allow = np.array([b.k // 2 if b.scored else b.k for b in blocks])
    m = np.zeros((n, nb), dtype=int)
    order_total = np.argsort(propensity, kind="stable")
    for j, blk in enumerate(blocks):
        score = propensity + 0.6 * rng.standard_normal(n)
        rank = np.argsort(score, kind="stable")
        if blk.scored:
            n_c, n_s = blk.complete_target, blk.scored_target
            partial = rank[n_c:n_s]
            m[partial, j] = rng.integers(1, allow[j] + 1, partial.size)
            uns = rank[n_s:]
            m[uns, j] = rng.integers(allow[j] + 1, ks[j] + 1, uns.size)
        else:
            p = np.clip(0.08 + 0.12 * (score - score.mean()), 0.01, 0.9)
            m[:, j] = rng.binomial(ks[j], p)
    # respondents complete on the total: the lowest propensity among those scored on it
    cand = [i for i in order_total if total_scored[i]][:total_complete]
    m[cand, :] = 0
    for i in np.flatnonzero(~total_scored):
        if m[i].sum() <= total_allow:
            m[i] = np.maximum(m[i], np.where(allow < ks, allow + 1, ks))
    total_items = ks.sum()

    def person_violation(row: np.ndarray, scored: bool) -> int:
        s = int(row.sum())
        if scored:
            return max(0, s - total_allow) + (1 if s == total_items else 0)
        return max(0, total_allow + 1 - s)

    ns = int(site.max()) + 1 if site is not None else 1
    site_arr = site if site is not None else np.zeros(n, dtype=int)

    def partial_flags(row: np.ndarray) -> np.ndarray:
        part = (row > 0) & (row <= allow) & (row < ks)
        s = row.sum()
        tot = bool(0 < s <= total_allow)
        return np.append(part, tot)

    part_cnt = np.zeros((ns, nb + 1), dtype=int)
    for i in range(n):
        part_cnt[site_arr[i]] += partial_flags(m[i])
    scored_cols = np.array([b.scored for b in blocks] + [True])

    def part_short() -> int:
        if not partial_per_site:
            return 0
        return int(np.maximum(partial_per_site - part_cnt[:, scored_cols], 0).sum())

    comp = (m == 0).sum(axis=0)
    scor = ((m <= allow) & (m < ks)).sum(axis=0)
    tcomp = int((m.sum(axis=1) == 0).sum())
    viol = np.array([person_violation(m[i], total_scored[i]) for i in range(n)])

    def loss() -> int:
        out = abs(tcomp - total_complete) + int(viol.sum()) + part_short()
        for j, blk in enumerate(blocks):
            if blk.scored:
                out += abs(int(comp[j]) - blk.complete_target) + abs(int(scor[j]) - blk.scored_target)
        return out

    cur = loss()
    it = 0
    weights = np.exp(propensity - propensity.max())
    weights /= weights.sum()
    while cur > 0:
        it += 1
        if it > max_iter:
            raise RuntimeError(f"missingness design did not converge (mismatch {cur})")
        i = int(rng.integers(n)) if rng.random() < 0.5 else int(rng.choice(n, p=weights))
        j = int(rng.integers(nb))
        old = int(m[i, j])
        new = int(rng.integers(0, ks[j] + 1))
        if new == old:
            continue
        old_row_zero = m[i].sum() == 0
        old_flags = partial_flags(m[i])
        m[i, j] = new
        new_flags = partial_flags(m[i])
        part_cnt[site_arr[i]] += new_flags.astype(int) - old_flags
        d_comp = int(new == 0) - int(old == 0)
        d_scor = int(new <= allow[j] and new < ks[j]) - int(old <= allow[j] and old < ks[j])
        d_t = int(m[i].sum() == 0) - int(old_row_zero)
        new_v = person_violation(m[i], total_scored[i])
        comp[j] += d_comp
        scor[j] += d_scor
        tcomp += d_t
        old_v = viol[i]
        viol[i] = new_v
        nl = loss()
        if nl <= cur:
            cur = nl
        else:
            m[i, j] = old
            comp[j] -= d_comp
            scor[j] -= d_scor
            tcomp -= d_t
            viol[i] = old_v
            part_cnt[site_arr[i]] -= new_flags.astype(int) - old_flags
    return m


def place_missing(
    counts: np.ndarray, blocks: list[Block], item_weight: dict[int, float], rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Which items are missing: (row, item number) pairs, ``counts[i, j]`` items drawn from block j.

    Items are drawn without replacement with probability proportional to ``item_weight`` (items with
    difficult wording are skipped far more often).
    """
    out: list[tuple[int, int]] = []
    for j, blk in enumerate(blocks):
        items = np.array(blk.items)
        w = np.array([item_weight[it] for it in blk.items], dtype=float)
        for i in np.flatnonzero(counts[:, j]):
            c = int(counts[i, j])
            if c >= items.size:
                chosen = items
            else:
                # Efraimidis-Spirakis weighted sampling without replacement
                keys = rng.random(items.size) ** (1.0 / w)
                chosen = items[np.argsort(-keys, kind="stable")[:c]]
            out.extend((int(i), int(it)) for it in chosen)
    return out
