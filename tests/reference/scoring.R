# Golden scale scores for tests/test_scoring.py, computed independently of cocapp with base R.
# Reads inputs/scoring_items.csv (raw printed responses; 8 = not applicable, 9 = no response, empty =
# system-missing) and writes golden/scoring/scores.csv.
# Rules (instruments.md): keep only answers inside the instrument's response range; reverse keyed items
# (min + max) - x; a score exists when missing items <= floor(t * k), computed in integer arithmetic on
# percentages, (pct * k) %/% 100, so there is no floating-point boundary error; score = rowMeans of the
# answered items (person-mean replacement); STAR-P is a prorated sum (mean * k).
# Keys transcribed by hand from ../shared/instruments.md (provisional keys of the embedded default).
# Run from the repository root: Rscript tests/reference/scoring.R

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
items <- read.csv(file.path(here, "inputs", "scoring_items.csv"), stringsAsFactors = FALSE)

instruments <- list(
  "RSA" = list(prefix = "rsa_", k = 36, lo = 1, hi = 5, kind = "mean", reverse = integer(0),
    scales = list(
      life_goals = c(10, 11, 14, 16, 17, 18, 19, 20, 21, 22),
      involvement = c(4, 12, 15, 23, 24, 25),
      diversity_of_treatment_options = c(1, 9, 26, 27, 28),
      choice = c(3, 6, 7, 13, 29),
      individually_tailored_services = c(2, 5, 8, 30, 31),
      total = 1:36)),
  "STAR-P" = list(prefix = "starp_", k = 12, lo = 0, hi = 4, kind = "sum", reverse = c(4, 8, 12),
    scales = list(
      positive_collaboration = c(1, 3, 5, 7, 9, 11),
      positive_clinician_input = c(2, 6, 10),
      non_supportive_clinician_input = c(4, 8, 12),
      total = 1:12)),
  "ES" = list(prefix = "es_", k = 28, lo = 1, hi = 4, kind = "mean",
    reverse = c(5, 6, 9, 18, 19, 24, 26, 2, 11, 20, 25, 27, 28, 1, 12, 13, 14, 15),
    scales = list(
      self_esteem_self_efficacy = c(5, 6, 9, 18, 19, 24, 26),
      power_powerlessness = c(8, 10, 16, 17, 21, 22, 23),
      community_activism_autonomy = c(2, 11, 20, 25, 27, 28),
      optimism_control_future = c(1, 12, 13, 14),
      righteous_anger = c(3, 4, 7, 15),
      total = 1:28))
)
threshold_pct <- c(0, 20, 30, 40, 50)

rows <- list()
for (key in names(instruments)) {
  inst <- instruments[[key]]
  cols <- sprintf("%s%02d", inst$prefix, seq_len(inst$k))
  x <- as.matrix(items[, cols])
  x[!is.na(x) & (x < inst$lo | x > inst$hi)] <- NA     # 8 / 9 are not answers
  x[, inst$reverse] <- (inst$lo + inst$hi) - x[, inst$reverse]
  keep <- rowSums(!is.na(x)) > 0                        # answered no item -> excluded from instrument
  for (scale in names(inst$scales)) {
    idx <- inst$scales[[scale]]
    k <- length(idx)
    sub <- x[keep, idx, drop = FALSE]
    answered <- rowSums(!is.na(sub))
    m <- rowMeans(sub, na.rm = TRUE)
    if (inst$kind == "sum") m <- m * k
    for (pct in threshold_pct) {
      allowed <- (pct * k) %/% 100
      score <- ifelse(k - answered <= allowed & answered > 0, m, NA)
      rows[[length(rows) + 1]] <- data.frame(
        id = items$id[keep], instrument = key, scale = scale,
        threshold = sprintf("%.1f", pct / 100), score = score,
        items_answered = answered, items_allowed_missing = allowed, stringsAsFactors = FALSE)
    }
  }
}
out <- do.call(rbind, rows)
dir.create(file.path(here, "golden", "scoring"), showWarnings = FALSE, recursive = TRUE)
write.csv(out, file.path(here, "golden", "scoring", "scores.csv"), row.names = FALSE, na = "")
cat(sprintf("wrote %d golden scores\n", nrow(out)))
