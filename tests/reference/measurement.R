# Golden values for the measurement tests (reliability, missingness, normality, descriptives, reference
# values), computed independently of cocapp in R. Run from anywhere: Rscript tests/reference/measurement.R
# Reads  inputs/measurement_items.csv  (raw printed answers; 8 = not applicable, 9 = no response, empty =
#        system-missing) and inputs/measurement_scores.csv (long scores at thresholds 0.0 and 0.5), both
#        written once by make_measurement_inputs.py.
# Writes golden/measurement/{reliability,reliability_items,missingness,missingness_items,
#        missingness_patterns,mcar,normality,descriptives,reference_comparison}.csv
#
# Methods (what each golden is checked against):
# - Cronbach's alpha: the formula in base R, k/(k-1) (1 - sum(var_i)/var(total)), on the rows complete
#   for the scale's keyed items, and psych::alpha(x)$total$raw_alpha (plus std.alpha, average_r,
#   item.stats$r.drop, alpha.drop$raw_alpha) where psych can compute it (n >= 2, k >= 3, variance > 0);
#   the script stops if the two disagree. Feldt's interval from qf() in base R.
# - Missingness: counts in base R; Little's MCAR test written out in base R (no R package with it is
#   packaged in Debian: misty, naniar, mvnmle, norm are not). EM here conditions on Sigma_OO
#   (regression of missing on observed items: B = Sigma_MO Sigma_OO^-1), whereas cocapp uses the
#   precision matrix; start, convergence rule (max abs change < 1e-12) and statistic as in Little (1988).
# - Skewness/kurtosis: e1071::skewness/kurtosis(type = 2) (= SPSS G1/G2), checked against the formulas
#   in base R; SEs from the SPSS formulas.
# - Descriptives: mean, sd, qt, median, min, max in base R.
# - Reference values: t.test(x, mu = reference mean).
# Instrument keys, sites and FIXTURE reference values are transcribed by hand from
# make_measurement_inputs.py / ../shared/instruments.md (not read from cocapp's files).

suppressPackageStartupMessages({
  library(psych)
  library(e1071)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out_dir <- file.path(here, "golden", "measurement")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
items <- read.csv(file.path(here, "inputs", "measurement_items.csv"), stringsAsFactors = FALSE)
scores <- read.csv(file.path(here, "inputs", "measurement_scores.csv"), stringsAsFactors = FALSE,
                   colClasses = c(threshold = "character"))

sites <- c("Alpha", "Beta", "Gamma", "Delta", "Epsilon")
conf <- 0.95
acceptable_alpha <- 0.70

instruments <- list(
  "RSA" = list(cols = sprintf("rsa_%02d", 1:36), lo = 1, hi = 5, reverse = integer(0),
    scales = list(
      life_goals = c(10, 11, 14, 16, 17, 18, 19, 20, 21, 22),
      involvement = c(4, 12, 15, 23, 24, 25),
      diversity_of_treatment_options = c(1, 9, 26, 27, 28),
      choice = c(3, 6, 7, 13, 29),
      individually_tailored_services = c(2, 5, 8, 30, 31),
      total = 1:36)),
  "STAR-P" = list(cols = sprintf("starp_%02d", 1:12), lo = 0, hi = 4, reverse = c(4, 8, 12),
    scales = list(
      positive_collaboration = c(1, 3, 5, 7, 9, 11),
      positive_clinician_input = c(2, 6, 10),
      non_supportive_clinician_input = c(4, 8, 12),
      total = 1:12)),
  "ES" = list(cols = sprintf("es_%02d", 1:28), lo = 1, hi = 4,
    reverse = c(5, 6, 9, 18, 19, 24, 26, 2, 11, 20, 25, 27, 28, 1, 12, 13, 14, 15),
    scales = list(
      self_esteem_self_efficacy = c(5, 6, 9, 18, 19, 24, 26),
      power_powerlessness = c(8, 10, 16, 17, 21, 22, 23),
      community_activism_autonomy = c(2, 11, 20, 25, 27, 28),
      optimism_control_future = c(1, 12, 13, 14),
      righteous_anger = c(3, 4, 7, 15),
      total = 1:28)),
  "EDGE" = list(cols = sprintf("edge_%d", 1:7), lo = 1, hi = 5, reverse = 6L,
    scales = list(single = 1, constant = c(2, 3), sparse = c(4, 5), pair = c(1, 6), allmiss = c(5, 7),
                  total = 1:7))
)

keyed_items <- function(inst) {
  x <- as.matrix(items[, inst$cols])
  x[!is.na(x) & (x < inst$lo | x > inst$hi)] <- NA
  x[, inst$reverse] <- (inst$lo + inst$hi) - x[, inst$reverse]
  x
}

# -- reliability ----------------------------------------------------------------------------------------
alpha_base <- function(x) {
  k <- ncol(x)
  if (k < 2 || nrow(x) < 2) return(NA_real_)
  tv <- var(rowSums(x))
  if (tv <= 0) return(NaN)
  k / (k - 1) * (1 - sum(apply(x, 2, var)) / tv)
}
feldt <- function(a, n, k) {
  if (is.na(a) || n < 2 || k < 2) return(c(NA_real_, NA_real_))
  g <- 1 - conf
  c(1 - (1 - a) * qf(1 - g / 2, n - 1, (n - 1) * (k - 1)), 1 - (1 - a) * qf(g / 2, n - 1, (n - 1) * (k - 1)))
}
near <- function(a, b, tol = 1e-10) isTRUE(all.equal(unname(a), unname(b), tolerance = tol))

rel_rows <- list(); item_rows <- list()
for (key in names(instruments)) {
  inst <- instruments[[key]]
  x_all <- keyed_items(inst)
  for (scale in names(inst$scales)) {
    idx <- inst$scales[[scale]]
    x <- x_all[complete.cases(x_all[, idx, drop = FALSE]), idx, drop = FALSE]
    n <- nrow(x); k <- length(idx)
    a <- alpha_base(x)
    ci <- feldt(a, n, k)
    sds <- if (n >= 2) apply(x, 2, sd) else rep(NA_real_, k)
    mean_r <- NA_real_; std_a <- NA_real_
    if (n >= 2 && k >= 2 && all(sds > 0)) {
      r <- cor(x)
      mean_r <- mean(r[upper.tri(r)])
      std_a <- k * mean_r / (1 + (k - 1) * mean_r)
    }
    r_drop <- rep(NA_real_, k); a_drop <- rep(NA_real_, k)
    if (n >= 2 && k >= 2) {
      for (i in seq_len(k)) {
        rest <- rowSums(x[, -i, drop = FALSE])
        if (sds[i] > 0 && var(rest) > 0) r_drop[i] <- cor(x[, i], rest)
        if (k > 2) a_drop[i] <- alpha_base(x[, -i, drop = FALSE])
      }
    }
    if (n >= 2 && k >= 3 && !is.na(a) && all(sds > 0)) {
      ps <- suppressWarnings(psych::alpha(as.data.frame(x), check.keys = FALSE, warnings = FALSE))
      stopifnot(near(ps$total$raw_alpha, a), near(ps$total$std.alpha, std_a),
                near(ps$total$average_r, mean_r), near(ps$item.stats$r.drop, r_drop),
                near(ps$alpha.drop$raw_alpha, a_drop))
    }
    rel_rows[[length(rel_rows) + 1]] <- data.frame(
      instrument = key, scale = scale, n_complete = n, k_items = k, alpha = a, ci_low = ci[1],
      ci_high = ci[2], acceptable = if (is.na(a)) NA else a >= acceptable_alpha,
      alpha_standardized = std_a, mean_inter_item_r = mean_r,
      scale_mean = if (n >= 1) mean(rowSums(x)) else NA_real_,
      scale_sd = if (n >= 2) sd(rowSums(x)) else NA_real_, stringsAsFactors = FALSE)
    item_rows[[length(item_rows) + 1]] <- data.frame(
      instrument = key, scale = scale, item = idx, n_complete = n,
      item_mean = if (n >= 1) colMeans(x) else NA_real_, item_sd = sds,
      corrected_item_total_r = r_drop, alpha_if_deleted = a_drop, stringsAsFactors = FALSE)
  }
}
write_golden <- function(df, name) {
  write.csv(df, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE, na = "")
  cat(sprintf("wrote %s.csv (%d rows)\n", name, nrow(df)))
}
write_golden(do.call(rbind, rel_rows), "reliability")
write_golden(do.call(rbind, item_rows), "reliability_items")

# -- missingness --------------------------------------------------------------------------------------
kind_of <- function(v, inst) {
  out <- ifelse(is.na(v), "empty", "undeclared")
  out[!is.na(v) & v == 8] <- "not_applicable"
  out[!is.na(v) & v == 9] <- "no_response"
  out[!is.na(v) & v >= inst$lo & v <= inst$hi] <- "answered"
  out
}
kinds <- c("not_applicable", "no_response", "refused", "other_missing", "empty", "undeclared")
n_ret <- nrow(items)
miss_rows <- list(); mitem_rows <- list(); pat_rows <- list()
for (key in names(instruments)) {
  inst <- instruments[[key]]
  raw <- as.matrix(items[, inst$cols])
  kd <- matrix(kind_of(raw, inst), nrow = nrow(raw))
  for (scale in names(inst$scales)) {
    idx <- inst$scales[[scale]]
    sub <- kd[, idx, drop = FALSE]
    ans <- sub == "answered"
    n_complete <- sum(rowSums(!ans) == 0)
    row <- data.frame(instrument = key, scale = scale, k_items = length(idx), n_returned = n_ret,
                      n_complete = n_complete, pct_incomplete = 100 * (1 - n_complete / n_ret),
                      n_no_item_answered = sum(rowSums(ans) == 0), n_cells_missing = sum(!ans),
                      stringsAsFactors = FALSE)
    for (kk in kinds) row[[paste0("n_cells_", kk)]] <- sum(sub == kk)
    miss_rows[[length(miss_rows) + 1]] <- row
    pat <- apply(!ans, 1, function(r) paste(ifelse(r, "M", "."), collapse = ""))
    tab <- table(pat)
    pat_rows[[length(pat_rows) + 1]] <- data.frame(
      instrument = key, scale = scale, pattern = names(tab), n_respondents = as.integer(tab),
      stringsAsFactors = FALSE)
  }
  for (j in seq_along(inst$cols)) {
    row <- data.frame(instrument = key, item = j, n_answered = sum(kd[, j] == "answered"),
                      stringsAsFactors = FALSE)
    for (kk in kinds) row[[paste0("n_", kk)]] <- sum(kd[, j] == kk)
    mitem_rows[[length(mitem_rows) + 1]] <- row
  }
}
write_golden(do.call(rbind, miss_rows), "missingness")
write_golden(do.call(rbind, mitem_rows), "missingness_items")
write_golden(do.call(rbind, pat_rows), "missingness_patterns")

# Little's MCAR test: EM (conditional regressions on Sigma_OO), then d2 over patterns.
em_mvn <- function(x, tol = 1e-12, max_iter = 10000) {
  n <- nrow(x); p <- ncol(x)
  obs <- !is.na(x)
  mu <- colMeans(x, na.rm = TRUE)
  sigma <- diag(apply(x, 2, function(v) { v <- v[!is.na(v)]; mean((v - mean(v))^2) }), p)
  groups <- split(seq_len(n), apply(obs, 1, function(r) paste(as.integer(r), collapse = "")))
  for (it in seq_len(max_iter)) {
    t1 <- numeric(p); t2 <- matrix(0, p, p)
    for (g in groups) {
      o <- obs[g[1], ]; m <- !o
      xo <- x[g, o, drop = FALSE]
      xhat <- matrix(0, length(g), p)
      xhat[, o] <- xo
      if (any(m)) {
        b <- sigma[m, o, drop = FALSE] %*% solve(sigma[o, o, drop = FALSE])
        xhat[, m] <- matrix(mu[m], length(g), sum(m), byrow = TRUE) + t(b %*% (t(xo) - mu[o]))
        t2[m, m] <- t2[m, m] + length(g) * (sigma[m, m, drop = FALSE] - b %*% sigma[o, m, drop = FALSE])
      }
      t1 <- t1 + colSums(xhat)
      t2 <- t2 + crossprod(xhat)
    }
    new_mu <- t1 / n
    new_sigma <- t2 / n - outer(new_mu, new_mu)
    new_sigma <- (new_sigma + t(new_sigma)) / 2
    change <- max(abs(new_mu - mu), abs(new_sigma - sigma))
    mu <- new_mu; sigma <- new_sigma
    if (change < tol) return(list(mu = mu, sigma = sigma, iterations = it, converged = TRUE))
  }
  list(mu = mu, sigma = sigma, iterations = max_iter, converged = FALSE)
}
little <- function(x) {
  p <- ncol(x)
  x <- x[rowSums(!is.na(x)) > 0, , drop = FALSE]
  obs <- !is.na(x)
  pats <- apply(obs, 1, function(r) paste(as.integer(r), collapse = ""))
  res <- data.frame(n_items = p, n_respondents = nrow(x), n_patterns = length(unique(pats)),
                    chi2 = NA_real_, df = NA_real_, p = NA_real_, computable = FALSE)
  if (any(colSums(obs) == 0) || res$n_patterns < 2) return(res)
  em <- em_mvn(x)
  stopifnot(em$converged)
  d2 <- 0; df <- 0
  for (g in split(seq_len(nrow(x)), pats)) {
    o <- obs[g[1], ]
    d <- colMeans(x[g, o, drop = FALSE]) - em$mu[o]
    d2 <- d2 + length(g) * drop(t(d) %*% solve(em$sigma[o, o, drop = FALSE]) %*% d)
    df <- df + sum(o)
  }
  df <- df - p
  res$chi2 <- d2; res$df <- df; res$p <- pchisq(d2, df, lower.tail = FALSE); res$computable <- TRUE
  res
}
mcar_rows <- list()
for (key in names(instruments)) {
  mcar_rows[[length(mcar_rows) + 1]] <- cbind(instrument = key, little(keyed_items(instruments[[key]])))
}
write_golden(do.call(rbind, mcar_rows), "mcar")

# -- scores: normality, descriptives, reference values --------------------------------------------------
scale_order <- do.call(rbind, lapply(names(instruments), function(k)
  data.frame(instrument = k, scale = names(instruments[[k]]$scales), stringsAsFactors = FALSE)))
skew_g1 <- function(x) {
  n <- length(x); d <- x - mean(x)
  g1 <- mean(d^3) / mean(d^2)^1.5
  g1 * sqrt(n * (n - 1)) / (n - 2)
}
kurt_g2 <- function(x) {
  n <- length(x); d <- x - mean(x)
  g2 <- mean(d^4) / mean(d^2)^2 - 3
  ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
}
norm_rows <- list(); desc_rows <- list(); ref_rows <- list()
references <- list(
  "STAR-P" = list(positive_collaboration = c(18.5, 4.5), non_supportive_clinician_input = c(9.0, NA),
                  total = c(36.0, 8.0)),
  "ES" = list(self_esteem_self_efficacy = c(2.7, 0.5), power_powerlessness = c(2.5, 0.4),
              community_activism_autonomy = c(3.0, 0.4), optimism_control_future = c(2.7, 0.5),
              righteous_anger = c(2.2, 0.5), total = c(2.7, 0.3)),
  "EDGE" = list(single = c(3.0, 1.0), constant = c(2.5, NA), sparse = c(3.0, NA), allmiss = c(3.0, NA),
                total = c(3.2, 1.0))
)
for (threshold in c("0.0", "0.5")) {
  for (r in seq_len(nrow(scale_order))) {
    key <- scale_order$instrument[r]; scale <- scale_order$scale[r]
    sub <- scores[scores$threshold == threshold & scores$instrument == key & scores$scale == scale, ]
    x <- sub$score[!is.na(sub$score)]
    n <- length(x)
    sk <- NA_real_; ku <- NA_real_; se_s <- NA_real_; se_k <- NA_real_
    if (n >= 3) se_s <- sqrt(6 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))
    if (n >= 4) se_k <- 2 * se_s * sqrt((n^2 - 1) / ((n - 3) * (n + 5)))
    if (n >= 3 && diff(range(x)) > 0) {
      sk <- e1071::skewness(x, type = 2)
      stopifnot(near(sk, skew_g1(x)))
      if (n >= 4) {
        ku <- e1071::kurtosis(x, type = 2)
        stopifnot(near(ku, kurt_g2(x)))
      }
    }
    beyond <- function(lim) {
      v <- c(sk, ku); v <- v[!is.na(v)]
      if (any(abs(v) > lim)) TRUE else if (length(v) < 2) NA else FALSE
    }
    norm_rows[[length(norm_rows) + 1]] <- data.frame(
      instrument = key, scale = scale, threshold = threshold, n = n, skewness = sk, skewness_se = se_s,
      kurtosis = ku, kurtosis_se = se_k, beyond_conservative = beyond(1), beyond_liberal = beyond(2),
      stringsAsFactors = FALSE)
    ref <- references[[key]][[scale]]
    for (site in c(sites, "All")) {
      xs <- if (site == "All") x else sub$score[sub$site == site & !is.na(sub$score)]
      ns <- length(xs)
      m <- if (ns >= 1) mean(xs) else NA_real_
      s <- if (ns >= 2) sd(xs) else NA_real_
      sem <- s / sqrt(ns)
      h <- if (ns >= 2) qt(1 - (1 - conf) / 2, ns - 1) * sem else NA_real_
      desc_rows[[length(desc_rows) + 1]] <- data.frame(
        instrument = key, scale = scale, threshold = threshold, site = site, n = ns, mean = m, sd = s,
        sem = if (ns >= 2) sem else NA_real_, ci_low = m - h, ci_high = m + h,
        min = if (ns >= 1) min(xs) else NA_real_, median = if (ns >= 1) median(xs) else NA_real_,
        max = if (ns >= 1) max(xs) else NA_real_, stringsAsFactors = FALSE)
      if (!is.null(ref)) {
        tt <- list(statistic = NA_real_, parameter = NA_real_, p.value = NA_real_, conf.int = c(NA, NA))
        if (ns >= 2 && s > 0) tt <- t.test(xs, mu = ref[1], conf.level = conf)
        ref_rows[[length(ref_rows) + 1]] <- data.frame(
          instrument = key, scale = scale, threshold = threshold, site = site, reference_mean = ref[1],
          n = ns, mean = m, sd = s, difference = m - ref[1],
          diff_ci_low = tt$conf.int[1] - ref[1], diff_ci_high = tt$conf.int[2] - ref[1],
          t = unname(tt$statistic), df = unname(tt$parameter), p = tt$p.value,
          cohens_d = if (ns >= 2 && s > 0) (m - ref[1]) / s else NA_real_,
          cohens_d_reference_sd = (m - ref[1]) / ref[2], stringsAsFactors = FALSE)
      }
    }
  }
}
write_golden(do.call(rbind, norm_rows), "normality")
write_golden(do.call(rbind, desc_rows), "descriptives")
write_golden(do.call(rbind, ref_rows), "reference_comparison")
