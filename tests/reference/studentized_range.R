# Golden values of the studentized range distribution for tests/test_studentized_range.py, from R's
# ptukey / qtukey (src/nmath/ptukey.c: Copenhaver & Holland 1988, 16-point Gauss-Legendre; qtukey.c:
# secant search, documented in ?qtukey as "accurate to the 4th decimal place").
#   ptukey.csv   k, df, q, p_upper = ptukey(q, k, df, lower.tail = FALSE), p_lower = ptukey(q, k, df)
#   qtukey.csv   k, df, p, q = qtukey(p, k, df), p_of_q = ptukey(q, k, df) (R's own round trip)
# Grid: k = 2..10; df = 2, 3, 5, 10, 30, 100, 1000, Inf; q = 0.5 ... 12; p = 0.5 ... 0.999.
# Run from the repository root: Rscript tests/reference/studentized_range.R

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

ks <- 2:10
dfs <- c(2, 3, 5, 10, 30, 100, 1000, Inf)
qs <- c(0.5, 1, 2, 3, 4, 5, 6, 8, 12)
ps <- c(0.5, 0.9, 0.95, 0.99, 0.999)

grid <- expand.grid(q = qs, df = dfs, k = ks)[, c("k", "df", "q")]
grid$p_upper <- ptukey(grid$q, grid$k, grid$df, lower.tail = FALSE)
grid$p_lower <- ptukey(grid$q, grid$k, grid$df)
write_golden(grid, "ptukey.csv")

qgrid <- expand.grid(p = ps, df = dfs, k = ks)[, c("k", "df", "p")]
qgrid$q <- qtukey(qgrid$p, qgrid$k, qgrid$df)
qgrid$p_of_q <- ptukey(qgrid$q, qgrid$k, qgrid$df)
write_golden(qgrid, "qtukey.csv")
