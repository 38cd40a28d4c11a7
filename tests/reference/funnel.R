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
