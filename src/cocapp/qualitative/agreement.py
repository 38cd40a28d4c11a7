"""Inter-coder agreement on coded text, by character (as NVivo's coding comparison query).

For one code in one source, every character of the source is, for each coder, coded or not coded
with that code. Two coders A and B are compared character by character:

``agreement_pct``
    100 x (characters both coded + characters neither coded) / characters of the source.
``kappa``
    Cohen's (1960) kappa on those characters: (p_o - p_e) / (1 - p_e), with
    p_e = p_A p_B + (1 - p_A)(1 - p_B), p_A and p_B the shares of the source each coder coded.
    As NVivo does, kappa is 1 when the coders agree on every character (p_e = 1 happens only then).

For two or more coders, Krippendorff's alpha (nominal; Krippendorff 2011, "Computing Krippendorff's
alpha-reliability") is computed on the same units (characters, every coder rating every character):
with m coders and k_u of them coding unit u, n = N m pairable values, n_1 = sum k_u, n_0 = n - n_1,
alpha = 1 - (n - 1) sum_u k_u (m - k_u) / (m - 1) / (n_0 n_1). It is undefined (empty) when nobody
or everybody coded every character (no variation).

Equivalents: NVivo's Coding Comparison query (kappa and percentage agreement per code x source);
R ``irr::kappa2`` and ``irr::kripp.alpha(method = "nominal")`` on per-character 0/1 vectors (the
reference script ``tests/reference/coding_agreement.R`` writes them out in base R).

Nothing is expanded to one row per character: coded intervals are merged per coder and swept, so the
cost grows with the number of segments, not with the length of the text.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

__all__ = [
    "ALPHA_COLUMNS",
    "PAIR_COLUMNS",
    "coder_counts",
    "coding_comparison",
    "cohen_kappa_counts",
    "krippendorff_alpha_binary",
    "merge_intervals",
]

PAIR_COLUMNS = [
    "theme",
    "code",
    "code_path",
    "source_id",
    "coder_a",
    "coder_b",
    "n_characters",
    "a_only",
    "b_only",
    "both",
    "neither",
    "agreement_pct",
    "kappa",
]
ALPHA_COLUMNS = ["theme", "code", "code_path", "source_id", "n_coders", "coders", "n_characters", "alpha"]


def merge_intervals(starts, ends) -> list[tuple[int, int]]:
    """Half-open intervals merged (overlapping or touching ones joined), sorted.

    >>> merge_intervals([5, 0, 2], [9, 3, 4])
    [(0, 4), (5, 9)]
    """
    out: list[list[int]] = []
    for s, e in sorted(zip((int(x) for x in starts), (int(x) for x in ends), strict=True)):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _length(iv: list[tuple[int, int]]) -> int:
    return sum(e - s for s, e in iv)


def _intersection(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    i = j = total = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0, hi - lo)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def cohen_kappa_counts(both: int, a_only: int, b_only: int, neither: int) -> tuple[float, float]:
    """(percentage agreement, Cohen's kappa) from the 2 x 2 character counts.

    >>> cohen_kappa_counts(40, 10, 20, 30)
    (70.0, 0.4)
    """
    n = both + a_only + b_only + neither
    # (po - pe) / (1 - pe) written over the integer counts (exact numerator and denominator):
    # 2 (both neither - a_only b_only)
    #   / ((both + a_only)(a_only + neither) + (both + b_only)(b_only + neither))
    num = 2 * (both * neither - a_only * b_only)
    den = (both + a_only) * (a_only + neither) + (both + b_only) * (b_only + neither)
    kappa = 1.0 if den == 0 else num / den
    return 100.0 * (both + neither) / n, kappa


def coder_counts(intervals: list[list[tuple[int, int]]], n_characters: int) -> np.ndarray:
    """``counts[k]`` = characters coded by exactly ``k`` of the coders (merged intervals per coder).

    >>> coder_counts([[(0, 4)], [(2, 6)]], 10).tolist()
    [4, 4, 2]
    """
    events: dict[int, int] = {}
    for iv in intervals:
        for s, e in iv:
            events[s] = events.get(s, 0) + 1
            events[e] = events.get(e, 0) - 1
    counts = np.zeros(len(intervals) + 1, dtype=np.int64)
    level, pos = 0, 0
    for x in sorted(events):
        counts[level] += x - pos
        level += events[x]
        pos = x
    counts[level] += n_characters - pos
    return counts


def krippendorff_alpha_binary(counts: np.ndarray) -> float:
    """Krippendorff's nominal alpha for m coders rating every unit 0/1; ``counts[k]`` units rated 1 by k.

    >>> round(krippendorff_alpha_binary(np.array([4, 4, 2])), 10)  # 2 coders, 10 characters
    0.2083333333
    """
    m = len(counts) - 1
    k = np.arange(m + 1)
    n = int(counts.sum()) * m
    n1 = int((counts * k).sum())
    n0 = n - n1
    if m < 2 or n0 == 0 or n1 == 0:
        return float("nan")
    disagree = float((counts * k * (m - k)).sum()) / (m - 1)
    return 1.0 - (n - 1) * disagree / (n0 * n1)


def coding_comparison(
    segments: pd.DataFrame, n_characters: dict[str, int], codebook: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise (kappa, agreement) and all-coder (alpha) tables per code x source.

    ``segments``: canonical segments (``coder``, ``source_id``, ``code_path``, ``start``, ``end``);
    ``n_characters``: the length of each source in characters. Rows: every code x source that at
    least one coder coded, for sources whose length is known; coder pairs in sorted order. Segments
    without offsets or coder are left out (they cannot be compared by character). Codes in codebook
    order when ``codebook`` is given, else by path; sources and coders sorted.
    """
    seg = segments[segments["start"].notna() & segments["coder"].notna()]
    seg = seg[seg["source_id"].isin(list(n_characters))]
    coders = sorted(seg["coder"].astype(str).unique())
    if len(coders) < 2 or seg.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS), pd.DataFrame(columns=ALPHA_COLUMNS)
    order = list(codebook["code_path"]) if codebook is not None else sorted(seg["code_path"].unique())
    rank = {p: i for i, p in enumerate(order)}
    pairs, alphas = [], []
    groups = seg.groupby(["code_path", "source_id"], sort=False)
    keys = sorted(groups.groups, key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1]))
    for path, source in keys:
        g = groups.get_group((path, source))
        n = int(n_characters[source])
        iv = {c: merge_intervals(d["start"], d["end"]) for c, d in g.groupby(g["coder"].astype(str))}
        ivs = [iv.get(c, []) for c in coders]
        label = {
            "theme": g["theme"].iloc[0],
            "code": g["code"].iloc[0],
            "code_path": path,
            "source_id": source,
        }
        for a, b in combinations(range(len(coders)), 2):
            la, lb, both = _length(ivs[a]), _length(ivs[b]), _intersection(ivs[a], ivs[b])
            a_only, b_only = la - both, lb - both
            neither = n - la - lb + both
            pct, kappa = cohen_kappa_counts(both, a_only, b_only, neither)
            pairs.append(
                {
                    **label,
                    "coder_a": coders[a],
                    "coder_b": coders[b],
                    "n_characters": n,
                    "a_only": a_only,
                    "b_only": b_only,
                    "both": both,
                    "neither": neither,
                    "agreement_pct": pct,
                    "kappa": kappa,
                }
            )
        alpha = krippendorff_alpha_binary(coder_counts(ivs, n))
        alphas.append(
            {**label, "n_coders": len(coders), "coders": "; ".join(coders), "n_characters": n, "alpha": alpha}
        )
    return pd.DataFrame(pairs, columns=PAIR_COLUMNS), pd.DataFrame(alphas, columns=ALPHA_COLUMNS)
