# Golden values of the studentized range for many means (k = 20 ... 250: all-pairs post hoc tests of a
# national study with hundreds of sites), from R's ptukey / qtukey, for tests/test_studentized_range_large_k.py.
#   ptukey_large_k.csv   k, df, q, p_upper = ptukey(q, k, df, lower.tail = FALSE), p_lower = ptukey(q, k, df)
#   qtukey_large_k.csv   k, df, p, q = qtukey(p, k, df)
# Grid: k = 20, 50, 100, 250; df = 2, 5, 10, 30, 100, 1000, 1e5, Inf; q = 3 ... 12; p = 0.5, 0.95, 0.99.
# R's accuracy at large k is measured in the test against an mpmath high-precision reference.
# Run from the repository root: Rscript tests/reference/studentized_range_large_k.R

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "golden", "studentized_range")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

write_golden <- function(df, name) {
  for (col in names(df)) {
    if (is.numeric(df[[col]])) {
      df[[col]] <- ifelse(is.na(df[[col]]), NA, sprintf("%.17g", df[[col]]))
    }
  }
  write.csv(df, file.path(out, name), row.names = FALSE, na = "")
}

ks <- c(20, 50, 100, 250)
dfs <- c(2, 5, 10, 30, 100, 1000, 1e5, Inf)
qs <- c(3, 4, 5, 6, 7, 8, 10, 12)
ps <- c(0.5, 0.95, 0.99)

grid <- expand.grid(q = qs, df = dfs, k = ks)[, c("k", "df", "q")]
grid$p_upper <- ptukey(grid$q, grid$k, grid$df, lower.tail = FALSE)
grid$p_lower <- ptukey(grid$q, grid$k, grid$df)
write_golden(grid, "ptukey_large_k.csv")

qgrid <- expand.grid(p = ps, df = dfs, k = ks)[, c("k", "df", "p")]
qgrid$q <- qtukey(qgrid$p, qgrid$k, qgrid$df)
write_golden(qgrid, "qtukey_large_k.csv")
