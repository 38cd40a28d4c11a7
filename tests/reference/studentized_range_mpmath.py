"""High-precision reference values of the studentized range upper tail for many means (k up to 250), by
mpmath at 20 significant digits; writes golden/studentized_range/mpmath_large_k.csv for
tests/test_studentized_range_large_k.py.

P(Q > q) = ∫ g_ν(u) P(R > q eᵘ) du (u = log S, S² = χ²_ν/ν) with
P(R > w) = k ∫ φ(z) Φc(z)^(k−1) [1 − (1 − Φc(z + w)/Φc(z))^(k−1)] dz (the range of k normals),
both by Gauss–Legendre on panels: inner 24 points on unit panels over z ∈ [−w/2 − 10, −w/2 + 8]
(the integrand of k = 250 is concentrated within about 0.35 of the smallest value's mode), outer
16 points on panels around the mode of the χ density (cut at −45/ν − 1, where it is below e⁻⁴⁰).
The column ``p_upper_coarse`` repeats the computation with 20/12-point panels: the two agree to
``rel_change`` (the reference's own error is below it). Independent of cocapp's code (no shared
function, a different variable and rule in z). Slow: several minutes per finite-ν point (about an
hour in all on a loaded 2-core machine).

Run from the repository root: python tests/reference/studentized_range_mpmath.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import mpmath as mp
import numpy as np

POINTS = [  # (k, df, q)
    (250, 2.0, 3.0),
    (250, 2.0, 8.0),
    (250, 5.0, 4.5),
    (250, 10.0, 6.0),
    (250, 30.0, 7.0),
    (250, 100.0, 8.0),
    (250, np.inf, 5.0),
    (250, np.inf, 6.6),
    (250, np.inf, 8.0),
    (250, np.inf, 11.0),
    (50, np.inf, 9.0),
]


def _gl(f, a, b, n):
    x, w = np.polynomial.legendre.leggauss(n)
    c, h = (a + b) / 2, (b - a) / 2
    return h * mp.fsum(mp.mpf(float(wi)) * f(c + h * mp.mpf(float(xi))) for xi, wi in zip(x, w, strict=True))


def range_sf(w, k: int, n: int):
    """P(R > w), R the range of k standard normals."""
    w = mp.mpf(w)

    def f(z):
        a = mp.ncdf(-z)
        return k * mp.npdf(z) * a ** (k - 1) * -mp.expm1((k - 1) * mp.log1p(-mp.ncdf(-(z + w)) / a))

    cuts = [-w / 2 + x for x in range(-10, 9)]
    return mp.fsum(_gl(f, cuts[i], cuts[i + 1], n) for i in range(len(cuts) - 1))


def studentized_sf(q: float, k: int, nu: float, n_in: int = 24, n_out: int = 16):
    """P(Q_{k,ν} > q) at 20 digits."""
    with mp.workdps(20):
        q = mp.mpf(q)
        if np.isinf(nu):
            return range_sf(q, k, n_in)
        nu = mp.mpf(nu)
        a = nu / 2
        logc = mp.log(2) + a * mp.log(a) - mp.loggamma(a)

        def f(u):
            return mp.exp(logc + 2 * a * u - a * mp.exp(2 * u)) * range_sf(q * mp.exp(u), k, n_in)

        u0 = -mp.log1p(q * q / (2 * nu)) / 2
        s = 1 / mp.sqrt(2 * nu)
        marks = [-45 / nu - 1, -12 / nu] + [x * s for x in (-10, -6, -4, -2.5, -1.5, 0, 1.5, 2.5, 4, 6, 10)]
        cuts = sorted({float(x) for x in marks})
        return mp.fsum(_gl(f, u0 + cuts[i], u0 + cuts[i + 1], n_out) for i in range(len(cuts) - 1))


def main() -> None:
    out = Path(__file__).parent / "golden" / "studentized_range" / "mpmath_large_k.csv"
    rows = []
    for k, df, q in POINTS:
        fine = studentized_sf(q, k, df)
        coarse = studentized_sf(q, k, df, 20, 12)
        with mp.workdps(20):
            change = abs(coarse / fine - 1)
        rows.append(
            {
                "k": k,
                "df": "Inf" if np.isinf(df) else repr(df),
                "q": repr(q),
                "p_upper": mp.nstr(fine, 20),
                "p_upper_coarse": mp.nstr(coarse, 20),
                "rel_change": mp.nstr(change, 3),
            }
        )
        print(rows[-1], flush=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
