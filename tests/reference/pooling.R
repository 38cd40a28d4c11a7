# Golden pooled statistics for tests/test_pooling.py, computed independently of cocapp with R mice 3.15
# (and mitml, which mice::D1/D2 call) on the committed imputed datasets inputs/pooling_imputed.csv
# (read back with as.mids). Writes golden/pooling/*.csv with 17 significant digits.
#   site_means.csv   mice::pool of lm(y ~ 1) per site (mean, SEM, dfcom = n_site - 1)
#   site_diffs.csv   mice::pool of lm(y ~ site) with the second site as reference: mean(a) - mean(b),
#                    and p_tukey = ptukey(|estimate| / sqrt(t) * sqrt(2), 3, df) (the pooled Tukey p)
#   omnibus.csv      mice::D1 and mice::D2 (use = "wald") of site: one-way (y ~ site vs y ~ 1) and
#                    ANCOVA (y ~ site + x + g vs y ~ x + g)
#   ancova_means.csv emmeans::emmeans(fit, "site") per imputation pooled by mice::pool.scalar
#                    (n = residual df + 1, k = 1, i.e. dfcom = residual df)
#   correlation.csv  mice::pool.r.squared of lm(z ~ y) (Fisher z of sqrt(R^2); 1.96 intervals), and
#                    mice::pool.scalar(atanh(r), 1/(n - 3)) of cor(y, z)
#   scale_correlations.csv  correlations between chosen scales of an instrument (RSA life goals, RSA
#                    choice, RSA total: person means of their items, as src/cocapp/instruments/RSA.yaml
#                    defines them) in the completed datasets inputs/pooling_items_imputed.csv, all sites
#                    and per site, pooled by mice::pool.scalar(atanh(r), 1/(n - 3)) (Rubin's rules on
#                    Fisher's z; miceadds::micombine.cor is not installed), interval tanh(qbar +- t_df sqrt(T))
# Run from the repository root: Rscript tests/reference/pooling.R
suppressMessages({
  library(mice)
  library(emmeans)
})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
long <- read.csv(file.path(here, "inputs", "pooling_imputed.csv"), stringsAsFactors = FALSE,
                 na.strings = "", check.names = FALSE)
sites <- c("Artois", "Burgundy", "Champagne")
long$site <- factor(long$site, levels = sites)
long$g <- factor(long$g)
imp <- as.mids(long, .imp = ".imp", .id = ".id")
m <- imp$m
out <- file.path(here, "golden", "pooling")
dir.create(out, showWarnings = FALSE, recursive = TRUE)
write_golden <- function(df, name) {
  for (col in names(df)) {
    if (is.numeric(df[[col]])) df[[col]] <- ifelse(is.na(df[[col]]), NA, sprintf("%.17g", df[[col]]))
  }
  write.csv(df, file.path(out, name), row.names = FALSE, na = "")
}
fits <- function(f) as.mira(lapply(seq_len(m), function(i) f(complete(imp, i))))
cols <- c("estimate", "ubar", "b", "t", "dfcom", "df", "riv", "lambda", "fmi")

# -- site means (one-sample: mean and SEM of each site) ----------------------------------------------
rows <- list()
for (s in sites) {
  p <- pool(fits(function(d) lm(y ~ 1, data = d[d$site == s, ])))$pooled
  rows[[s]] <- data.frame(site = s, p[, cols])
}
write_golden(do.call(rbind, rows), "site_means.csv")

# -- pairwise differences of site means (pooled-variance SE, dfcom = N - k) -------------------------
rows <- list()
for (a in 1:2) for (b in (a + 1):3) {
  p <- pool(fits(function(d) lm(y ~ relevel(site, ref = sites[b]), data = d)))$pooled
  term <- paste0("relevel(site, ref = sites[b])", sites[a])
  r <- p[as.character(p$term) == term, cols]
  # Tukey-adjusted p of the pooled difference: the studentized range at |estimate / sqrt(t)| * sqrt(2)
  # with the Barnard-Rubin df (what cocapp's pooled pairs report as p_adj)
  r$p_tukey <- ptukey(abs(r$estimate) / sqrt(r$t) * sqrt(2), nmeans = length(sites), df = r$df,
                      lower.tail = FALSE)
  rows[[length(rows) + 1]] <- data.frame(site_a = sites[a], site_b = sites[b], r)
}
write_golden(do.call(rbind, rows), "site_diffs.csv")

# -- omnibus site tests: D1 and D2 -------------------------------------------------------------------
omni <- function(analysis, f1, f0) {
  t1 <- D1(f1, f0)$result
  t2 <- D2(f1, f0, use = "wald")$result
  data.frame(analysis = analysis, method = c("D1", "D2"),
             F = c(t1[1], t2[1]), df1 = c(t1[2], t2[2]), df2 = c(t1[3], t2[3]),
             p = c(t1[4], t2[4]), riv = c(t1[5], t2[5]))
}
write_golden(rbind(
  omni("oneway", fits(function(d) lm(y ~ site, data = d)), fits(function(d) lm(y ~ 1, data = d))),
  omni("ancova", fits(function(d) lm(y ~ site + x + g, data = d)),
       fits(function(d) lm(y ~ x + g, data = d)))
), "omnibus.csv")

# -- ANCOVA adjusted means pooled -------------------------------------------------------------------
emm <- lapply(seq_len(m), function(i) {
  fit <- lm(y ~ site + x + g, data = complete(imp, i))
  e <- summary(emmeans(fit, "site"))
  list(est = e$emmean, se = e$SE, df = df.residual(fit))
})
rows <- list()
for (j in seq_along(sites)) {
  Q <- sapply(emm, function(e) e$est[j]); U <- sapply(emm, function(e) e$se[j]^2)
  ps <- pool.scalar(Q, U, n = emm[[1]]$df + 1, k = 1)
  rows[[j]] <- data.frame(site = sites[j], estimate = ps$qbar, ubar = ps$ubar, b = ps$b, t = ps$t,
                          df = ps$df, riv = ps$r, fmi = ps$fmi)
}
write_golden(do.call(rbind, rows), "ancova_means.csv")

# -- correlation of y and z: Fisher z -----------------------------------------------------------------
r2 <- pool.r.squared(fits(function(d) lm(z ~ y, data = d)))
r <- sapply(seq_len(m), function(i) { d <- complete(imp, i); cor(d$y, d$z) })
ps <- pool.scalar(atanh(r), rep(1 / (nrow(long[long$.imp == 0, ]) - 3), m))
write_golden(data.frame(r2_est = r2[1, "est"], r2_lo = r2[1, "lo 95"], r2_hi = r2[1, "hi 95"],
                        r2_fmi = r2[1, "fmi"], z = ps$qbar, t = ps$t, df = ps$df, riv = ps$r,
                        fmi = ps$fmi), "correlation.csv")

# -- correlations between chosen scales (totals and subscales) of the imputed RSA answers ------------
done <- read.csv(file.path(here, "inputs", "pooling_items_imputed.csv"), stringsAsFactors = FALSE,
                 check.names = FALSE)
rsa_item <- function(k) sprintf("rsa_%02d", k)
scales <- list(  # name as in correlations.csv -> items (src/cocapp/instruments/RSA.yaml)
  "RSA.life_goals" = rsa_item(c(10, 11, 14, 16, 17, 18, 19, 20, 21, 22)),
  "RSA.choice" = rsa_item(c(3, 6, 7, 13, 29)),
  "RSA" = rsa_item(1:36)
)
cc_sites <- c("All", "Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence")
m2 <- max(done$.imp)
rows <- list()
for (s in cc_sites) for (a in 1:2) for (b in (a + 1):3) {
  x <- names(scales)[a]
  y <- names(scales)[b]
  rn <- t(sapply(seq_len(m2), function(i) {
    d <- done[done$.imp == i & (s == "All" | done$site == s), ]
    c(r = cor(rowMeans(d[scales[[x]]]), rowMeans(d[scales[[y]]])), n = nrow(d))
  }))
  ps <- pool.scalar(atanh(rn[, "r"]), 1 / (rn[, "n"] - 3))
  half <- qt(0.975, ps$df) * sqrt(ps$t)
  rows[[length(rows) + 1]] <- data.frame(
    site = s, x = x, y = y, n = rn[1, "n"], m = m2, r = tanh(ps$qbar), ci_low = tanh(ps$qbar - half),
    ci_high = tanh(ps$qbar + half), p = 2 * pt(abs(ps$qbar) / sqrt(ps$t), ps$df, lower.tail = FALSE),
    df = ps$df, riv = ps$r, fmi = ps$fmi, re = 1 / (1 + ps$fmi / m2)
  )
}
write_golden(do.call(rbind, rows), "scale_correlations.csv")
