# Golden upper tails of the studentized range at k = 250 for a Games–Howell-sized batch: one Welch df
# per pair (2,400 points, df from 30 to 20,000 log-uniform, q from 0.5 to 39.5), from R's ptukey, for
# tests/test_studentized_range_large_k.py (cocapp interpolates such batches in log2 df between tables
# of log P(Q > w), cocapp.stats.studentized_range._sf_many_df).
#   ptukey_many_df.csv   k, df, q, p_upper = ptukey(q, k, df, lower.tail = FALSE)
# df stays below 25,000 (above it R's ptukey uses df = Inf) and at or above 30, where R's ptukey at
# k = 250 is within about 1e-5 absolutely (tests/test_studentized_range_large_k.py measures R there).
# Run from the repository root: Rscript tests/reference/games_howell_many_df.R

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "golden", "studentized_range")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

set.seed(16)
n <- 2400
grid <- data.frame(k = 250, df = exp(runif(n, log(30), log(20000))), q = runif(n, 0.5, 39.5))
grid$p_upper <- ptukey(grid$q, grid$k, grid$df, lower.tail = FALSE)
for (col in names(grid)) grid[[col]] <- sprintf("%.17g", grid[[col]])
write.csv(grid, file.path(out, "ptukey_many_df.csv"), row.names = FALSE)
