"""Number formatting for display: the one place where cocapp turns numbers into text.

Tables, figures, the sensitivity verdict and the report all format through these functions, so that a
p-value, a mean (SEM) or a confidence level reads the same everywhere. Results are computed and stored
at full precision; rounding happens only here, when a number is shown.

Conventions (the paper's, Simpson et al. 2016, Tables 2-4):

* a value that does not exist (None, NaN) is written as an em dash ``—`` (:data:`MISSING_TEXT`) and
  ``-0.00`` is written ``0.00`` (:func:`fmt_num`);
* p with 3 decimals, a p below 0.001 written ``< 0.001``, never ``0.000`` (:func:`fmt_p`); in running
  text, as many decimals as it takes to show which side of the significance level p is on
  (:func:`fmt_p_text`);
* degrees of freedom as integers, one decimal when fractional (:func:`fmt_df`);
* ``*`` when p < the significance level, ``**`` when p < 0.01 (:func:`significance_stars`);
* settings such as a significance level, a scale bound or a confidence level in their shortest form
  (``0.05``, ``48``, ``95%``: :func:`fmt_g`, :func:`fmt_percent`);
* a quantity of any size to a few significant digits (:func:`fmt_sig`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import pandas as pd

__all__ = [
    "MISSING_TEXT",
    "STRICT_LEVEL",
    "fmt_anova",
    "fmt_ci",
    "fmt_df",
    "fmt_g",
    "fmt_mean_sem",
    "fmt_num",
    "fmt_p",
    "fmt_p_eq",
    "fmt_p_text",
    "fmt_percent",
    "fmt_sig",
    "fmt_signed",
    "is_missing",
    "significance_stars",
]

MISSING_TEXT = "—"
# The second, stricter star level of the paper's Tables 2-3 ("** Significant at the p < 0.01 level").
STRICT_LEVEL = 0.01


def is_missing(x: object) -> bool:
    """True for None, NaN and pandas' NA/NaT (a value with nothing to show).

    >>> is_missing(None), is_missing(float("nan")), is_missing(0.0), is_missing("text")
    (True, True, False, False)
    """
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x: float | None, dp: int = 2, missing: str = MISSING_TEXT) -> str:
    """A number rounded to ``dp`` decimals; ``missing`` (an em dash) when absent; never ``-0.00``.

    >>> fmt_num(3.4849), fmt_num(-0.1234, 3), fmt_num(-0.001), fmt_num(float("nan"))
    ('3.48', '-0.123', '0.00', '—')
    >>> fmt_num(0.12345, 4, missing=""), fmt_num(None, missing="")
    ('0.1235', '')
    """
    if is_missing(x) or not math.isfinite(float(x)):
        return missing
    text = f"{float(x):.{dp}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def fmt_signed(x: float, dp: int = 2) -> str:
    """A difference with its sign always shown (a shift of a mean): ``+0.13``, ``-1.20``.

    >>> fmt_signed(0.125), fmt_signed(-1.2), fmt_signed(0.0, 1)
    ('+0.12', '-1.20', '+0.0')
    """
    return f"{float(x):+.{dp}f}"


def fmt_g(x: float) -> str:
    """A setting in its shortest form (Python's ``g``): a significance level, a bound, a cut-off.

    >>> fmt_g(0.05), fmt_g(0.01), fmt_g(48.0), fmt_g(1.0)
    ('0.05', '0.01', '48', '1')
    """
    return f"{float(x):g}"


def fmt_sig(x: float | None, digits: int = 3, missing: str = MISSING_TEXT) -> str:
    """A number to ``digits`` significant digits (Python's ``g``), for a quantity of any size.

    An adjusted p quoted in running text or an over-dispersion estimate; ``missing`` when absent.

    >>> fmt_sig(0.0123456), fmt_sig(2.5e-07), fmt_sig(1234.56, 4), fmt_sig(float("nan"))
    ('0.0123', '2.5e-07', '1235', '—')
    """
    if is_missing(x):
        return missing
    return f"{float(x):.{digits}g}"


def fmt_percent(fraction: float | Fraction | str, sep: str = "") -> str:
    """A fraction as a percentage in its shortest form; ``sep`` goes between number and ``%``.

    Computed on the decimal as written (0.3 is 3/10, so 30 %, never 30.000000000000004 %).

    >>> fmt_percent(0.95), fmt_percent("0.5"), fmt_percent(Fraction(1, 8), sep=" "), fmt_percent(0.3)
    ('95%', '50%', '12.5 %', '30%')
    """
    exact = fraction if isinstance(fraction, Fraction) else Fraction(str(float(fraction)))
    pct = exact * 100
    text = str(pct.numerator) if pct.denominator == 1 else f"{float(pct):g}"
    return f"{text}{sep}%"


def fmt_p(p: float | None, dp: int = 3) -> str:
    """A p-value for a table: ``dp`` decimals, below 10^-dp written ``< 0.001``; NaN -> ``—``.

    >>> fmt_p(0.6591), fmt_p(0.0004), fmt_p(0.00099), fmt_p(1.0)
    ('0.659', '< 0.001', '< 0.001', '1.000')
    """
    if is_missing(p):
        return MISSING_TEXT
    p = float(p)
    if p < 0 or p > 1:
        raise ValueError(f"p-value {p!r} is outside [0, 1]")
    floor = 10.0**-dp
    if p < floor:
        return f"< {floor:.{dp}f}"
    return f"{p:.{dp}f}"


def fmt_p_eq(p: float | None, dp: int = 3) -> str:
    """``p = 0.659`` or ``p < 0.001`` (``p = —`` when missing).

    >>> fmt_p_eq(0.0171), fmt_p_eq(1e-9)
    ('p = 0.017', 'p < 0.001')
    """
    text = fmt_p(p, dp)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def fmt_p_text(p: float | None, alpha: float = 0.05) -> str:
    """p for running text: three decimals, more when three would blur the side of ``alpha`` it is on.

    0.0496 to three decimals is 0.050, which reads as "not below 0.05", so it keeps a fourth decimal.
    A missing p is ``not available``.

    >>> fmt_p_text(0.08312), fmt_p_text(0.0004), fmt_p_text(0.0496), fmt_p_text(0.05)
    ('0.083', '< 0.001', '0.0496', '0.050')
    >>> fmt_p_text(float("nan")), fmt_p_text(None)
    ('not available', 'not available')
    """
    if p is None or not math.isfinite(p):
        return "not available"
    if p < 0.001:
        return "< 0.001"
    for digits in range(3, 10):
        shown = round(p, digits)
        if (shown < alpha) == (p < alpha):
            return f"{p:.{digits}f}"
    return repr(p)


def fmt_df(df: float | None) -> str:
    """Degrees of freedom: an integer when whole, else one decimal (Welch).

    >>> fmt_df(5.0), fmt_df(394), fmt_df(171.26)
    ('5', '394', '171.3')
    """
    if is_missing(df):
        return MISSING_TEXT
    df = float(df)
    return str(int(round(df))) if abs(df - round(df)) < 1e-9 else f"{df:.1f}"


def significance_stars(p: float | None, alpha: float = 0.05, strict: float = STRICT_LEVEL) -> str:
    """``**`` when p < ``strict``, ``*`` when p < ``alpha``, else ``""`` (paper's Tables 2-3 footnote).

    >>> significance_stars(0.005), significance_stars(0.017), significance_stars(0.2)
    ('**', '*', '')
    """
    if is_missing(p):
        return ""
    p = float(p)
    if p < min(strict, alpha):
        return "**"
    if p < alpha:
        return "*"
    return ""


def fmt_anova(df1: float, df2: float, f: float, p: float, alpha: float = 0.05, f_dp: int = 2) -> str:
    """``F(5, 394) = 0.65, p = 0.659`` with `` *``/`` **`` appended (paper's Table 2 cell).

    >>> fmt_anova(5, 429, 3.4512, 0.00462)
    'F(5, 429) = 3.45, p = 0.005 **'
    >>> fmt_anova(5, 394, 0.651, 0.0000001)
    'F(5, 394) = 0.65, p < 0.001 **'
    """
    if is_missing(f):
        return MISSING_TEXT
    text = f"F({fmt_df(df1)}, {fmt_df(df2)}) = {fmt_num(f, f_dp)}, {fmt_p_eq(p)}"
    stars = significance_stars(p, alpha)
    return f"{text} {stars}" if stars else text


def fmt_mean_sem(mean: float, sem: float, dp: int = 2) -> str:
    """``Mean (SEM)`` cell with ``dp`` decimals (the same layout serves a mean (SD)).

    >>> fmt_mean_sem(3.4812, 0.1234), fmt_mean_sem(float("nan"), 0.1)
    ('3.48 (0.12)', '—')
    """
    if is_missing(mean):
        return MISSING_TEXT
    return f"{fmt_num(mean, dp)} ({fmt_num(sem, dp)})"


def fmt_ci(low: float | None, high: float | None, dp: int = 2) -> str:
    """A confidence interval ``0.71 to 0.80``; ``—`` when the lower end is missing.

    >>> fmt_ci(0.7125, 0.8049), fmt_ci(float("nan"), 0.8)
    ('0.71 to 0.80', '—')
    """
    if is_missing(low):
        return MISSING_TEXT
    return f"{fmt_num(low, dp)} to {fmt_num(high, dp)}"
