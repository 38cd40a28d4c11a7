# Golden inter-coder agreement for tests/test_qualitative_agreement.py, computed independently of cocapp
# in base R (the irr package is not installed; its kappa2 and kripp.alpha(method = "nominal") are
# what these formulae compute).
# Reads inputs/coding_agreement_segments.csv (source_id, n_characters, code_path, coder, start, end;
# 0-based half-open character offsets) and writes golden/coding_agreement/pairs.csv (percentage
# agreement and Cohen's kappa per code x source x coder pair) and golden/coding_agreement/alpha.csv
# (Krippendorff's nominal alpha across all coders per code x source).
# Method: each character of the source is a unit; a coder's value is 1 when any of their segments of
# that code covers it, else 0 -- the per-character vectors are built explicitly (rep/replace), with no
# interval arithmetic. Kappa from the 2 x 2 table: (po - pe) / (1 - pe), 1 when pe = 1 (NVivo).
# Alpha from the coincidence matrix built unit by unit over ordered coder pairs (Krippendorff 2011):
# o[c, k] = sum_u sum_{i != j} [v_iu = c][v_ju = k] / (m - 1); alpha = 1 - (n - 1) * sum_{c != k} o[c, k]
# / sum_{c != k} n_c n_k.
# Run from the repository root: Rscript tests/reference/coding_agreement.R

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
seg <- read.csv(file.path(here, "inputs", "coding_agreement_segments.csv"), stringsAsFactors = FALSE)
out <- file.path(here, "golden", "coding_agreement")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

coders <- sort(unique(seg$coder))
vec <- function(part, coder, n) {
  v <- rep(0L, n)
  for (r in which(part$coder == coder)) v[(part$start[r] + 1):part$end[r]] <- 1L
  v
}

pairs <- list()
alphas <- list()
keys <- unique(seg[, c("code_path", "source_id")])
keys <- keys[order(keys$code_path, keys$source_id), ]
for (i in seq_len(nrow(keys))) {
  part <- seg[seg$code_path == keys$code_path[i] & seg$source_id == keys$source_id[i], ]
  n <- part$n_characters[1]
  v <- sapply(coders, function(c) vec(part, c, n))  # n x m matrix of 0/1
  for (a in 1:(length(coders) - 1)) for (b in (a + 1):length(coders)) {
    tab <- table(factor(v[, a], levels = 0:1), factor(v[, b], levels = 0:1))
    po <- sum(diag(tab)) / n
    pe <- sum(rowSums(tab) * colSums(tab)) / n^2
    kappa <- if (pe == 1) 1 else (po - pe) / (1 - pe)
    pairs[[length(pairs) + 1]] <- data.frame(
      code_path = keys$code_path[i], source_id = keys$source_id[i], coder_a = coders[a], coder_b = coders[b],
      n_characters = n, a_only = tab["1", "0"], b_only = tab["0", "1"], both = tab["1", "1"],
      neither = tab["0", "0"], agreement_pct = 100 * po, kappa = kappa)
  }
  m <- length(coders)
  o <- matrix(0, 2, 2)
  for (p in 1:m) for (q in 1:m) if (p != q) {
    o <- o + table(factor(v[, p], levels = 0:1), factor(v[, q], levels = 0:1)) / (m - 1)
  }
  nc <- rowSums(o)
  nn <- sum(nc)
  de <- nc[1] * nc[2] * 2
  alpha <- if (de == 0) NA else 1 - (nn - 1) * (o[1, 2] + o[2, 1]) / de
  alphas[[length(alphas) + 1]] <- data.frame(
    code_path = keys$code_path[i], source_id = keys$source_id[i], n_coders = m, n_characters = n, alpha = alpha)
}
write.csv(do.call(rbind, pairs), file.path(out, "pairs.csv"), row.names = FALSE)
write.csv(do.call(rbind, alphas), file.path(out, "alpha.csv"), row.names = FALSE)
