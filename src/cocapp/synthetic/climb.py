"""Deterministic SPRITE-like hill climb on item responses.

Starting from the latent-model draw, single answered items are nudged by +1 or -1 (never outside the
response range, never touching a missing answer, so the missingness pattern and every N stay fixed).
A nudge is kept when it lowers the summed loss of all calibration targets it can affect (ties are kept
half of the time so the search can cross flat regions). Proposals are directed: a failing target is
picked and a nudge that would move it the right way is proposed (a site mean too low -> raise an item of a
respondent of that site; an SEM too low -> push a respondent away from the site mean; alpha too low ->
move an item in the direction of the respondent's standing on the scale; ...); the loss decides. All
statistics are kept as running sums, so one nudge costs O(1) per target.

Loss of a target with value x and inner interval [a, b] (the rounding interval shrunk by min(10 % of its
width, 1e-4) each side, 0.01 for the normality limits): d = distance of x from [a, b] in print units u
(0.01 for means, 0.001 for r, ...);
loss = d + d^2. The search stops when every loss is zero.

References: Heathers JAJ, Anaya J, van der Zee T, Brown NJL (2018) Recovering data from summary
statistics: Sample Parameter Reconstruction via Iterative TEchniques (SPRITE). PeerJ Preprints 6:e26968.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .scales import ScaleDef

__all__ = ["ClimbTarget", "Climber"]


@dataclass
class ClimbTarget:
    """A target as the climber sees it: ``kind`` in mean, sem, F, alpha, norm, r, tukey."""

    kind: str
    scale: int  # scale index (for r: first scale of the pair)
    site: int = -1  # site index (tukey: site compared with ``site_b``)
    lo: float = -math.inf
    hi: float = math.inf
    unit: float = 0.01
    other: int = -1  # r: second scale; tukey: reference site
    name: str = ""


class Climber:
    """Running sums of every statistic over a keyed item matrix; see module docstring."""

    def __init__(
        self,
        keyed: np.ndarray,
        site: np.ndarray,
        n_sites: int,
        scales: list[ScaleDef],
        threshold: Fraction,
        targets: list[ClimbTarget],
        rng: np.random.Generator,
    ):
        self.rng = rng
        self.n = keyed.shape[0]
        self.ns = n_sites
        self.scales = scales
        self.site = [int(s) for s in site]
        self.v: list[list[float | None]] = [
            [None if math.isnan(x) else float(x) for x in row] for row in keyed.tolist()
        ]
        ncol = keyed.shape[1]
        self.col_scales: list[list[int]] = [[] for _ in range(ncol)]
        self.col_lo = [0.0] * ncol
        self.col_hi = [0.0] * ncol
        S = len(scales)
        self.cnt = [[0] * self.n for _ in range(S)]
        self.sm = [[0.0] * self.n for _ in range(S)]
        self.scored = [[False] * self.n for _ in range(S)]
        self.comp = [[False] * self.n for _ in range(S)]
        self.answered: list[list[list[int]]] = [[[] for _ in range(self.n)] for _ in range(S)]
        self.members: list[list[list[int]]] = [[[] for _ in range(n_sites)] for _ in range(S)]
        self.complete_rows: list[list[int]] = [[] for _ in range(S)]
        self.shift = [0.0] * S
        self.prorated: list[list[list[int]]] = [[] for _ in range(S)]
        # copies of a scale at another threshold only feed an F target: keep their site sums only
        self.light = [sd.threshold is not None for sd in scales]
        self.sn = [[0] * n_sites for _ in range(S)]
        self.s1 = [[0.0] * n_sites for _ in range(S)]
        self.s2 = [[0.0] * n_sites for _ in range(S)]
        self.p3 = [0.0] * S
        self.p4 = [0.0] * S
        self.nc = [0] * S
        self.is1 = [dict() for _ in range(S)]
        self.is2 = [dict() for _ in range(S)]
        self.t1 = [0.0] * S
        self.t2 = [0.0] * S
        self.sumvar = [0.0] * S
        for s, sd in enumerate(scales):
            allow = sd.allow(threshold)
            for c in sd.cols:
                self.col_scales[c].append(s)
                self.col_lo[c], self.col_hi[c] = sd.lo, sd.hi
            scores = []
            for i in range(self.n):
                row = self.v[i]
                ans = [c for c in sd.cols if row[c] is not None]
                self.answered[s][i] = ans
                self.cnt[s][i] = len(ans)
                self.sm[s][i] = float(sum(row[c] for c in ans))
                if ans and sd.k - len(ans) <= allow:
                    self.scored[s][i] = True
                    self.members[s][self.site[i]].append(i)
                    scores.append(sd.mult * self.sm[s][i] / len(ans))
                if len(ans) == sd.k:
                    self.comp[s][i] = True
                    self.complete_rows[s].append(i)
            self.shift[s] = float(np.mean(scores)) if scores else 0.0
            # prorated respondents (scored, some items missing): their sum-scale steps are k/answered, not 1,
            # which is what lets a site mean of a sum scale land between the integer/n lattice points
            self.prorated[s] = [
                [i for i in self.members[s][j] if self.cnt[s][i] < sd.k] for j in range(n_sites)
            ]
            for i in range(self.n):
                if self.scored[s][i]:
                    x = self._score(s, i)
                    j = self.site[i]
                    self.sn[s][j] += 1
                    self.s1[s][j] += x
                    self.s2[s][j] += x * x
                    self.p3[s] += x**3
                    self.p4[s] += x**4
            rows = self.complete_rows[s]
            self.nc[s] = len(rows)
            for c in sd.cols:
                vals = [self.v[i][c] for i in rows]
                self.is1[s][c] = float(sum(vals))
                self.is2[s][c] = float(sum(x * x for x in vals))
                self.sumvar[s] += self._var(s, c)
            tots = [self.sm[s][i] for i in rows]
            self.t1[s] = float(sum(tots))
            self.t2[s] = float(sum(t * t for t in tots))
        # correlation pairs (instrument totals)
        self.pairs: list[tuple[int, int]] = []
        self.pair_sums: list[list[float]] = []
        self.pairs_of: dict[int, list[int]] = {}
        self.pair_members: list[list[int]] = []
        self.in_pair: list[set[int]] = []
        self.targets = targets
        for t in targets:
            if t.kind == "r" and (t.scale, t.other) not in self.pairs:
                a, b = t.scale, t.other
                mem = [i for i in range(self.n) if self.scored[a][i] and self.scored[b][i]]
                sums = [float(len(mem)), 0.0, 0.0, 0.0, 0.0, 0.0]
                for i in mem:
                    x, y = self._score(a, i), self._score(b, i)
                    sums[1] += x
                    sums[2] += y
                    sums[3] += x * x
                    sums[4] += y * y
                    sums[5] += x * y
                self.pairs.append((a, b))
                self.pair_sums.append(sums)
                self.pair_members.append(mem)
                self.in_pair.append(set(mem))
                self.pairs_of.setdefault(a, []).append(len(self.pairs) - 1)
                self.pairs_of.setdefault(b, []).append(len(self.pairs) - 1)
        # target lookup
        self.by_scale_site: list[list[list[int]]] = [[[] for _ in range(n_sites)] for _ in range(S)]
        self.by_scale: list[list[int]] = [[] for _ in range(S)]
        for ti, t in enumerate(targets):
            if t.kind in ("mean", "sem"):
                self.by_scale_site[t.scale][t.site].append(ti)
            elif t.kind == "r":
                self.by_scale[t.scale].append(ti)
                self.by_scale[t.other].append(ti)
            else:
                self.by_scale[t.scale].append(ti)
        self.loss = [self._loss(t) for t in targets]
        self.temperature = 0.0
        self.temperature_start = 0.3

    # -- statistics --------------------------------------------------------------------------------
    def _score(self, s: int, i: int) -> float:
        return self.scales[s].mult * self.sm[s][i] / self.cnt[s][i] - self.shift[s]

    def _var(self, s: int, c: int) -> float:
        n = self.nc[s]
        return (self.is2[s][c] - self.is1[s][c] ** 2 / n) / (n - 1) if n > 1 else 0.0

    def site_mean_sem(self, s: int, j: int) -> tuple[float, float]:
        n = self.sn[s][j]
        m = self.s1[s][j] / n
        var = (self.s2[s][j] - self.s1[s][j] * m) / (n - 1)
        return m + self.shift[s], math.sqrt(max(var, 0.0) / n)

    def anova_F(self, s: int) -> tuple[float, float]:
        """(F, MSE) of the one-way ANOVA of scale ``s`` across sites."""
        N = sum(self.sn[s])
        tot = sum(self.s1[s])
        g = tot / N
        ssb = 0.0
        ssw = 0.0
        for j in range(self.ns):
            n = self.sn[s][j]
            m = self.s1[s][j] / n
            ssb += n * (m - g) ** 2
            ssw += self.s2[s][j] - self.s1[s][j] * m
        k = self.ns
        mse = ssw / (N - k)
        return (ssb / (k - 1)) / mse, mse

    def alpha(self, s: int) -> float:
        n = self.nc[s]
        k = self.scales[s].k
        vt = (self.t2[s] - self.t1[s] ** 2 / n) / (n - 1)
        return k / (k - 1) * (1.0 - self.sumvar[s] / vt)

    def moments(self, s: int) -> tuple[float, float]:
        """SPSS skewness G1 and kurtosis G2 of scale ``s`` pooled across sites."""
        n = sum(self.sn[s])
        S1 = sum(self.s1[s]) / n
        S2 = sum(self.s2[s]) / n
        S3 = self.p3[s] / n
        S4 = self.p4[s] / n
        m2 = S2 - S1 * S1
        m3 = S3 - 3 * S1 * S2 + 2 * S1**3
        m4 = S4 - 4 * S1 * S3 + 6 * S1 * S1 * S2 - 3 * S1**4
        g1 = m3 / m2**1.5
        g2 = m4 / m2**2 - 3.0
        G1 = math.sqrt(n * (n - 1)) / (n - 2) * g1
        G2 = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
        return G1, G2

    def pearson(self, p: int) -> float:
        n, sx, sy, sxx, syy, sxy = self.pair_sums[p]
        cov = sxy - sx * sy / n
        return cov / math.sqrt((sxx - sx * sx / n) * (syy - sy * sy / n))

    def tukey_q(self, s: int, a: int, b: int) -> float:
        _, mse = self.anova_F(s)
        ma = self.s1[s][a] / self.sn[s][a]
        mb = self.s1[s][b] / self.sn[s][b]
        return abs(ma - mb) / math.sqrt(mse / 2 * (1 / self.sn[s][a] + 1 / self.sn[s][b]))

    def value(self, t: ClimbTarget) -> float:
        k = t.kind
        if k == "mean":
            return self.site_mean_sem(t.scale, t.site)[0]
        if k == "sem":
            return self.site_mean_sem(t.scale, t.site)[1]
        if k == "F":
            return self.anova_F(t.scale)[0]
        if k == "alpha":
            return self.alpha(t.scale)
        if k == "norm":
            G1, G2 = self.moments(t.scale)
            return max(abs(G1), abs(G2))
        if k == "r":
            return self.pearson(self.pairs.index((t.scale, t.other)))
        if k == "tukey":
            return self.tukey_q(t.scale, t.site, t.other)
        raise ValueError(f"unknown target kind {k!r}")

    def _loss(self, t: ClimbTarget) -> float:
        x = self.value(t)
        if t.lo <= x <= t.hi:
            return 0.0
        d = (t.lo - x if x < t.lo else x - t.hi) / t.unit
        return d + d * d

    # -- moves ---------------------------------------------------------------------------------------
    def _apply(self, i: int, c: int, d: float) -> None:
        x_old = self.v[i][c]
        self.v[i][c] = x_old + d
        j = self.site[i]
        for s in self.col_scales[c]:
            sm_old = self.sm[s][i]
            if self.scored[s][i]:
                old = self._score(s, i)
                self.sm[s][i] = sm_old + d
                new = self._score(s, i)
                self.s1[s][j] += new - old
                self.s2[s][j] += new * new - old * old
                if self.light[s]:
                    continue
                self.p3[s] += new**3 - old**3
                self.p4[s] += new**4 - old**4
                for p in self.pairs_of.get(s, ()):
                    if i in self.in_pair[p]:
                        a, b = self.pairs[p]
                        sums = self.pair_sums[p]
                        if a == s:
                            y = self._score(b, i)
                            sums[1] += new - old
                            sums[3] += new * new - old * old
                            sums[5] += (new - old) * y
                        else:
                            y = self._score(a, i)
                            sums[2] += new - old
                            sums[4] += new * new - old * old
                            sums[5] += (new - old) * y
            else:
                self.sm[s][i] = sm_old + d
            if self.comp[s][i] and not self.light[s]:
                self.sumvar[s] -= self._var(s, c)
                self.is1[s][c] += d
                self.is2[s][c] += (x_old + d) ** 2 - x_old**2
                self.sumvar[s] += self._var(s, c)
                self.t1[s] += d
                self.t2[s] += (sm_old + d) ** 2 - sm_old**2

    def _affected(self, i: int, c: int) -> set[int]:
        out: set[int] = set()
        j = self.site[i]
        for s in self.col_scales[c]:
            out.update(self.by_scale_site[s][j])
            out.update(self.by_scale[s])
        return out

    def try_moves(self, moves: list[tuple[int, int, float]]) -> bool:
        """Apply nudges together; keep them if the summed loss of affected targets does not grow."""
        done: list[tuple[int, int, float]] = []
        aff: set[int] = set()
        for i, c, d in moves:
            x = self.v[i][c]
            if not d or x is None or not (self.col_lo[c] <= x + d <= self.col_hi[c]):
                for i2, c2, d2 in reversed(done):
                    self._apply(i2, c2, -d2)
                return False
            aff |= self._affected(i, c)
            self._apply(i, c, d)
            done.append((i, c, d))
        before = sum(self.loss[t] for t in aff)
        new = {t: self._loss(self.targets[t]) for t in aff}
        after = sum(new.values())
        delta = after - before
        if (
            delta < 0
            or (delta == 0 and self.rng.random() < 0.5)
            or (
                self.temperature > 0 and delta > 0 and self.rng.random() < math.exp(-delta / self.temperature)
            )
        ):
            for t, val in new.items():
                self.loss[t] = val
            return True
        for i, c, d in reversed(done):
            self._apply(i, c, -d)
        return False

    # -- proposals -------------------------------------------------------------------------------------
    def _pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def _direction(self, t: ClimbTarget) -> float:
        x = self.value(t)
        return 1.0 if x < t.lo else -1.0

    def _mean_move(self, s: int, j: int, d: float) -> tuple[int, int, float]:
        pool = self.prorated[s][j]
        if self.scales[s].mult > 1 and pool and self.rng.random() < 0.3:
            i = self._pick(pool)
        else:
            i = self._pick(self.members[s][j])
        return i, self._pick(self.answered[s][i]), d

    def _spread_move(self, s: int, j: int, direction: float) -> tuple[int, int, float]:
        i = self._pick(self.members[s][j])
        m = self.s1[s][j] / self.sn[s][j]
        above = self._score(s, i) > m
        d = direction if above else -direction
        return i, self._pick(self.answered[s][i]), d

    def _spread_pair(self, s: int, j: int, direction: float) -> list[tuple[int, int, float]]:
        """Two opposite nudges at one site on respondents with the same number of answers: the site mean
        stays exactly where it is while the spread grows (direction +1) or shrinks (-1)."""
        mem = self.members[s][j]
        i1 = self._pick(mem)
        i2 = self._pick(mem)
        if i1 == i2 or self.cnt[s][i1] != self.cnt[s][i2]:
            return [self._spread_move(s, j, direction)]
        hi_i, lo_i = (i1, i2) if self._score(s, i1) >= self._score(s, i2) else (i2, i1)
        return [
            (hi_i, self._pick(self.answered[s][hi_i]), direction),
            (lo_i, self._pick(self.answered[s][lo_i]), -direction),
        ]

    def propose_batch(self, t: ClimbTarget) -> list[tuple[int, int, float]]:
        """Like :meth:`propose`, but spread-type targets (SEM, F) may get a mean-preserving pair."""
        if t.kind == "sem" and self.rng.random() < 0.5:
            return self._spread_pair(t.scale, t.site, self._direction(t))
        if t.kind == "F" and self.rng.random() < 0.5:
            return self._spread_pair(t.scale, int(self.rng.integers(self.ns)), -self._direction(t))
        return [self.propose(t)]

    def propose(self, t: ClimbTarget) -> tuple[int, int, float]:
        rng = self.rng
        s = t.scale
        if rng.random() < 0.1:  # undirected nudge keeps the search from cycling
            j = int(rng.integers(self.ns))
            return self._mean_move(s, j, 1.0 if rng.random() < 0.5 else -1.0)
        direction = self._direction(t)
        k = t.kind
        if k == "mean":
            return self._mean_move(s, t.site, direction)
        if k == "sem":
            return self._spread_move(s, t.site, direction)
        if k == "F":
            if rng.random() < 0.5:
                j = int(rng.integers(self.ns))
                g = sum(self.s1[s]) / sum(self.sn[s])
                away = 1.0 if self.s1[s][j] / self.sn[s][j] > g else -1.0
                return self._mean_move(s, j, away * direction)
            return self._spread_move(s, int(rng.integers(self.ns)), -direction)
        if k == "alpha":
            i = self._pick(self.complete_rows[s])
            c = self._pick(self.answered[s][i])
            mean_i = self.sm[s][i] / self.cnt[s][i]
            grand = self.t1[s] / self.nc[s] / self.scales[s].k
            return i, c, (1.0 if mean_i > grand else -1.0) * direction
        if k == "norm":
            G1, G2 = self.moments(s)
            j = int(rng.integers(self.ns))
            i = self._pick(self.members[s][j])
            n = sum(self.sn[s])
            mu = sum(self.s1[s]) / n
            sd = math.sqrt(max(sum(self.s2[s]) / n - mu * mu, 1e-12))
            z = (self._score(s, i) - mu) / sd
            c = self._pick(self.answered[s][i])
            if abs(G1) >= abs(G2):
                # shrink (direction -1) or stretch the tail on the side of the skew
                if z * G1 > 0:
                    return i, c, math.copysign(1.0, G1) * direction
                return i, c, 1.0 if rng.random() < 0.5 else -1.0
            tail = 1.0 if abs(z) > 1.0 else -1.0
            return i, c, math.copysign(1.0, z) * tail * direction * math.copysign(1.0, G2)
        if k == "r":
            p = self.pairs.index((t.scale, t.other))
            i = self._pick(self.pair_members[p])
            a, b = (t.scale, t.other) if rng.random() < 0.5 else (t.other, t.scale)
            nb = sum(self.sn[b])
            mb = sum(self.s1[b]) / nb
            zsign = 1.0 if self._score(b, i) > mb else -1.0
            return i, self._pick(self.answered[a][i]), zsign * direction
        if k == "tukey":
            a, b = t.site, t.other
            diff_sign = 1.0 if self.s1[s][a] / self.sn[s][a] > self.s1[s][b] / self.sn[s][b] else -1.0
            if rng.random() < 0.5:
                return self._mean_move(s, a, diff_sign * direction)
            return self._mean_move(s, b, -diff_sign * direction)
        raise ValueError(k)

    def _compensate(self, t: ClimbTarget, move: tuple[int, int, float]) -> list[tuple[int, int, float]]:
        """A directed nudge plus an opposite nudge elsewhere (fine steps; keeps sums on the lattice)."""
        i, c, d = move
        rng = self.rng
        u = rng.random()
        s = self.col_scales[c][0]  # the smallest scale holding the item (subscale, else total)
        if u < 0.35:  # same respondent, another item of the same scale: score kept, item structure changes
            others = [c2 for c2 in self.answered[s][i] if c2 != c]
            if others:
                return [(i, c, d), (i, self._pick(others), -d)]
        j = self.site[i]
        if self.scales[s].mult > 1 and self.prorated[s][j] and rng.random() < 0.5:
            i2 = self._pick(self.prorated[s][j])
        elif u < 0.7 or t.site < 0:
            i2 = self._pick(self.members[s][j]) if self.members[s][j] else i
        else:
            j2 = int(rng.integers(self.ns))
            i2 = self._pick(self.members[s][j2]) if self.members[s][j2] else i
        if not self.answered[s][i2]:
            return [move]
        return [(i, c, d), (i2, self._pick(self.answered[s][i2]), -d)]

    def _valid(self, batch: list[tuple[int, int, float]]) -> bool:
        seen: dict[tuple[int, int], float] = {}
        for i, c, d in batch:
            x = self.v[i][c]
            if x is None:
                return False
            x = seen.get((i, c), x) + d
            if not (self.col_lo[c] <= x <= self.col_hi[c]):
                return False
            seen[(i, c)] = x
        return True

    def _chain(
        self, move: tuple[int, int, float], depth: int = 4, k: int = 6
    ) -> list[tuple[int, int, float]]:
        """A nudge followed by up to ``depth`` - 1 repair batches, each the best of ``k`` proposals aimed at
        the target that the moves so far hurt most (a short lookahead: fixing one statistic often needs
        another repaired at once)."""
        if not self._valid([move]):
            return [move]
        batch = [move]
        self._apply(*move)
        aff = set(self._affected(move[0], move[1]))
        for _ in range(depth - 1):
            worst, gain = -1, 1e-12
            for t in aff:
                diff = self._loss(self.targets[t]) - self.loss[t]
                if diff > gain:
                    worst, gain = t, diff
            if worst < 0:
                break
            best, best_val = None, math.inf
            for _ in range(k):
                cand = self.propose_batch(self.targets[worst])
                if not self._valid(cand):
                    continue
                caff = set(aff)
                for i, c, d in cand:
                    self._apply(i, c, d)
                    caff |= self._affected(i, c)
                val = sum(self._loss(self.targets[t]) - self.loss[t] for t in caff)
                for i, c, d in reversed(cand):
                    self._apply(i, c, -d)
                if val < best_val:
                    best, best_val = cand, val
            if best is None:
                break
            for i, c, d in best:
                self._apply(i, c, d)
                aff |= self._affected(i, c)
            batch += best
        for i, c, d in reversed(batch):
            self._apply(i, c, -d)
        return batch

    def run(self, max_moves: int = 700_000) -> dict:
        """Climb until every target loss is zero (or ``max_moves`` proposals). Returns a summary."""
        moves = accepted = 0
        failing = [t for t, val in enumerate(self.loss) if val > 0]
        self.initial_failing = len(failing)
        t0 = self.temperature_start
        # simulated annealing: the temperature falls geometrically (to 1e-4 of its start) over the first
        # 60 % of the budget; the rest is pure descent
        batches = max(max_moves // 200, 1)
        batch_no = 0
        while failing and moves < max_moves:
            frac = batch_no / batches
            self.temperature = t0 * (1e-4 ** (frac / 0.6)) if frac < 0.6 else 0.0
            batch_no += 1
            for _ in range(200):
                ti = self._pick(failing)
                if self.loss[ti] == 0:
                    continue
                t = self.targets[ti]
                first = self.propose_batch(t)
                move = first[0]
                moves += 1
                u = self.rng.random()
                if u < 0.4:
                    batch = first
                elif u < 0.8:
                    batch = self._compensate(t, move)
                else:
                    batch = self._chain(move)
                if self.try_moves(batch):
                    accepted += 1
            failing = [t for t, val in enumerate(self.loss) if val > 0]
        return {
            "moves": moves,
            "accepted": accepted,
            "initial_failing": self.initial_failing,
            "targets": len(self.targets),
            "failing": [self.targets[t].name for t in failing],
        }

    def keyed(self) -> np.ndarray:
        return np.array([[np.nan if x is None else x for x in row] for row in self.v], dtype=float)
