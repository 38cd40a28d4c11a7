# Golden confidence intervals of eta^2 for tests/test_effect_size.py, computed independently of cocapp in
# base R: the noncentrality bounds solve pf(F, df1, df2, ncp) = (1 + conf)/2 and (1 - conf)/2 by
# uniroot (floored at 0 when even ncp = 0 gives less), mapped to eta^2 = ncp / (ncp + df1 + df2 + 1)
# (Steiger 2004; MBESS ci.pvaf). Writes golden/effect_size/eta2_ci.csv with 17 significant digits.
# Run from the repository root: Rscript tests/reference/effect_size.R
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "golden", "effect_size")
dir.create(out, showWarnings = FALSE, recursive = TRUE)
bound <- function(F, df1, df2, prob) {
  f <- function(ncp) pf(F, df1, df2, ncp = ncp) - prob
  if (f(0) <= 0) return(0)
  hi <- max(1, F * df1)
  while (f(hi) > 0) hi <- hi * 2
  uniroot(f, c(0, hi), tol = 1e-13, maxiter = 1000)$root
}
grid <- expand.grid(F = c(0.3, 1, 2.5, 4.2, 10, 40), df1 = c(1, 2, 5), df2 = c(20, 195, 442),
                    conf = c(0.95, 0.9))
rows <- lapply(seq_len(nrow(grid)), function(i) {
  g <- grid[i, ]
  n <- g$df1 + g$df2 + 1
  tail <- (1 - g$conf) / 2
  lo <- bound(g$F, g$df1, g$df2, 1 - tail)
  hi <- bound(g$F, g$df1, g$df2, tail)
  data.frame(F = g$F, df1 = g$df1, df2 = g$df2, confidence = g$conf,
             ncp_low = lo, ncp_high = hi, eta2_ci_low = lo / (lo + n), eta2_ci_high = hi / (hi + n))
})
res <- do.call(rbind, rows)
for (col in names(res)) res[[col]] <- sprintf("%.17g", res[[col]])
write.csv(res, file.path(out, "eta2_ci.csv"), row.names = FALSE)

# National size (issue 16: 250 sites, about 10^6 respondents): df2 near 10^6, where SciPy's ncfdtr
# returns NaN far beyond the upper root (cocapp treats that as the underflowed CDF it is).
# Writes golden/effect_size/eta2_ci_national.csv.
big <- data.frame(F = c(16.09641806012316, 1.9061900726553043, 1.3080944056189445, 7.79182582390275,
                        2.6447739778125054, 245.67143589331926),
                  df1 = 249, df2 = c(890816, 907423, 903176, 932769, 824741, 559999))
rows <- lapply(seq_len(nrow(big)), function(i) {
  g <- big[i, ]
  n <- g$df1 + g$df2 + 1
  lo <- bound(g$F, g$df1, g$df2, 0.975)
  hi <- bound(g$F, g$df1, g$df2, 0.025)
  data.frame(F = g$F, df1 = g$df1, df2 = g$df2, confidence = 0.95,
             ncp_low = lo, ncp_high = hi, eta2_ci_low = lo / (lo + n), eta2_ci_high = hi / (hi + n))
})
res <- do.call(rbind, rows)
for (col in names(res)) res[[col]] <- sprintf("%.17g", res[[col]])
write.csv(res, file.path(out, "eta2_ci_national.csv"), row.names = FALSE)
