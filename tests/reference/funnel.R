# Golden funnel plot control limits (Spiegelhalter 2005, Stat Med 24:1185) for tests/test_funnel.py,
# computed in base R from tests/reference/inputs/funnel_sites.csv (site, n, mean, sd):
# target = weighted.mean(mean, n); s = pooled within-site SD; limits target +/- qnorm(1 - (1 - p)/2) s/sqrt(n).
#   golden/funnel/funnel.csv   site, target, sd_within, se, precision, z, lower_95, upper_95, lower_998, upper_998
# Run from the repository root: Rscript tests/reference/funnel.R

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "golden", "funnel")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

d <- read.csv(file.path(here, "inputs", "funnel_sites.csv"), stringsAsFactors = FALSE)
target <- weighted.mean(d$mean, d$n)
s <- sqrt(sum((d$n - 1) * d$sd^2) / (sum(d$n) - nrow(d)))
se <- s / sqrt(d$n)
res <- data.frame(site = d$site, target = target, sd_within = s, se = se, precision = d$n / s^2,
                  z = (d$mean - target) / se)
for (p in c(0.95, 0.998)) {
  tag <- if (p == 0.95) "95" else "998"
  z <- qnorm(1 - (1 - p) / 2)
  res[[paste0("lower_", tag)]] <- target - z * se
  res[[paste0("upper_", tag)]] <- target + z * se
}
for (col in names(res)) {
  if (is.numeric(res[[col]])) res[[col]] <- sprintf("%.17g", res[[col]])
}
write.csv(res, file.path(out, "funnel.csv"), row.names = FALSE)

# -- Over-dispersion (Spiegelhalter 2005, section 6), hand-written in base R -------------------------------
# z-scores Winsorised at 10% / 90% (quantile type 7, R's default); phi_hat = mean(zw^2);
# multiplicative: phi = max(phi_hat, 1), limits target +/- z_p sqrt(phi) se;
# additive: tau2 = max(0, (I phi_hat - (I - 1)) / (sum(w) - sum(w^2) / sum(w))), w = 1/se^2,
# limits target +/- z_p sqrt(se^2 + tau2).
# Input inputs/funnel_overdispersed.csv (40 sites with real between-site variation, thousands of
# respondents each) is written here from a fixed seed when absent (committed; the goldens read it back).
#   golden/funnel/overdispersion.csv   input, method, site, phi_hat, phi, tau2, se_limits, z_adjusted,
#                                      lower_95, upper_95, lower_998, upper_998
od_input <- file.path(here, "inputs", "funnel_overdispersed.csv")
if (!file.exists(od_input)) {
  set.seed(20050416)
  k <- 40
  n <- round(exp(runif(k, log(200), log(20000))))
  mu <- 50 + rnorm(k, 0, 1.5)
  sdv <- round(runif(k, 9, 11), 3)
  m <- round(mu + rnorm(k, 0, sdv / sqrt(n)), 4)
  write.csv(data.frame(site = sprintf("N%02d", seq_len(k)), n = n, mean = m, sd = sdv), od_input,
            row.names = FALSE)
}
od_rows <- list()
for (input in c("funnel_sites.csv", "funnel_overdispersed.csv")) {
  d <- read.csv(file.path(here, "inputs", input), stringsAsFactors = FALSE)
  target <- weighted.mean(d$mean, d$n)
  s <- sqrt(sum((d$n - 1) * d$sd^2) / (sum(d$n) - nrow(d)))
  se <- s / sqrt(d$n)
  z <- (d$mean - target) / se
  q <- quantile(z, c(0.1, 0.9), type = 7, names = FALSE)
  zw <- pmin(pmax(z, q[1]), q[2])
  I <- length(z)
  phi_hat <- mean(zw^2)
  w <- 1 / se^2
  for (method in c("multiplicative", "additive")) {
    phi <- if (method == "multiplicative") max(phi_hat, 1) else 1
    tau2 <- if (method == "additive") max(0, (I * phi_hat - (I - 1)) / (sum(w) - sum(w^2) / sum(w))) else 0
    se_lim <- sqrt(phi * se^2 + tau2)
    res <- data.frame(input = input, method = method, site = d$site, phi_hat = phi_hat, phi = phi,
                      tau2 = tau2, se_limits = se_lim, z_adjusted = (d$mean - target) / se_lim)
    for (p in c(0.95, 0.998)) {
      tag <- if (p == 0.95) "95" else "998"
      res[[paste0("lower_", tag)]] <- target - qnorm(1 - (1 - p) / 2) * se_lim
      res[[paste0("upper_", tag)]] <- target + qnorm(1 - (1 - p) / 2) * se_lim
    }
    od_rows[[length(od_rows) + 1]] <- res
  }
}
od <- do.call(rbind, od_rows)
for (col in names(od)) {
  if (is.numeric(od[[col]])) od[[col]] <- sprintf("%.17g", od[[col]])
}
write.csv(od, file.path(out, "overdispersion.csv"), row.names = FALSE)
