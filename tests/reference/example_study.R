# Golden statistics of the second example study (examples/education), computed independently of cocapp
# with R (stats, car, emmeans) from the RAW file examples/education/data/raw/survey.csv, with the study's
# rules transcribed by hand from examples/education/config.yaml and its instrument files:
#   rows without an education level are left out (grouping.unknown: exclude);
#   9 = no response; answers outside 1-5 (PERS) / 1-7 (SWLS) are not answers;
#   PERS reverse keyed A2, C3, E2, O3 as 6 - x; a respondent answering no item of an instrument has no
#   score on it; a scale score exists when missing items <= floor(t * k) (integer arithmetic on
#   percentages) and is the mean of the answered items (SWLS: that mean x 5, a prorated sum);
#   PERS total = the mean over A1-A3 and C1-C3.
# Writes golden/example/*.csv (17 significant digits), every threshold:
#   scores.csv        every respondent x instrument x scale x threshold with a score
#   descriptives.csv  n, mean, sd per education level
#   anova.csv         aov (df, SS, F, p) and oneway.test (Welch F, p)
#   tukey.csv         TukeyHSD, diff = mean(a) - mean(b), a before b in config order
#   correlations.csv  cor.test (Pearson, Fisher-z CI), pairwise complete, pooled and per level
#   reliability.csv   Cronbach's alpha on complete cases, by its formula
#   ancova.csv        car::Anova(lm(score ~ site + age + gender), type = 3), contr.sum; listwise n
#   ancova_means.csv  emmeans(model, "site")
# Run from the repository root: Rscript tests/reference/example_study.R

suppressMessages({
  library(car)
  library(emmeans)
})
options(contrasts = c("contr.sum", "contr.poly"))
emm_options(msg.interaction = FALSE)

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
root <- normalizePath(file.path(here, "..", ".."))
raw <- read.csv(file.path(root, "examples", "education", "data", "raw", "survey.csv"),
                stringsAsFactors = FALSE, na.strings = "", colClasses = c(resp_id = "character"))
out <- file.path(here, "golden", "example")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

levels_ <- c("Primary", "Secondary", "Vocational", "University")
conf <- 0.95
threshold_pct <- c(0, 20, 40)
raw <- raw[!is.na(raw$education) & raw$education %in% levels_, ]

write_golden <- function(df, name) {
  for (col in names(df)) {
    if (is.numeric(df[[col]])) df[[col]] <- ifelse(is.na(df[[col]]), NA, sprintf("%.17g", df[[col]]))
  }
  write.csv(df, file.path(out, name), row.names = FALSE, na = "")
}

pers_cols <- c(paste0("A", 1:3), paste0("C", 1:3), paste0("E", 1:3), paste0("N", 1:3), paste0("O", 1:3))
instruments <- list(
  PERS = list(cols = pers_cols, lo = 1, hi = 5, kind = "mean", reverse = c("A2", "C3", "E2", "O3"),
              scales = list(agreeableness = paste0("A", 1:3), conscientiousness = paste0("C", 1:3),
                            extraversion = paste0("E", 1:3), neuroticism = paste0("N", 1:3),
                            openness = paste0("O", 1:3),
                            total = c(paste0("A", 1:3), paste0("C", 1:3)))),
  SWLS = list(cols = paste0("swls_", 1:5), lo = 1, hi = 7, kind = "sum", reverse = character(0),
              scales = list(total = paste0("swls_", 1:5)))
)

# -- scores ----------------------------------------------------------------------------------------
score_rows <- list(); keyed_items <- list()
for (key in names(instruments)) {
  inst <- instruments[[key]]
  x <- as.matrix(raw[, inst$cols]); storage.mode(x) <- "double"
  x[!is.na(x) & (x < inst$lo | x > inst$hi)] <- NA
  for (rc in inst$reverse) x[, rc] <- (inst$lo + inst$hi) - x[, rc]
  keep <- rowSums(!is.na(x)) > 0
  keyed_items[[key]] <- x[keep, , drop = FALSE]
  for (scale in names(inst$scales)) {
    sub <- x[keep, inst$scales[[scale]], drop = FALSE]
    k <- ncol(sub)
    answered <- rowSums(!is.na(sub))
    m <- rowMeans(sub, na.rm = TRUE)
    if (inst$kind == "sum") m <- m * k
    for (pct in threshold_pct) {
      allowed <- (pct * k) %/% 100
      ok <- k - answered <= allowed & answered > 0
      score_rows[[length(score_rows) + 1]] <- data.frame(
        id = raw$resp_id[keep][ok], site = raw$education[keep][ok], instrument = key, scale = scale,
        threshold = sprintf("%.1f", pct / 100), score = m[ok], stringsAsFactors = FALSE)
    }
  }
}
scores <- do.call(rbind, score_rows)

# -- per outcome and threshold: descriptives, ANOVA, Tukey, ANCOVA ---------------------------------
cov <- data.frame(id = raw$resp_id, age = raw$age, gender = ifelse(raw$gender == 9, NA, raw$gender))
desc_rows <- list(); anova_rows <- list(); tukey_rows <- list(); anc_rows <- list(); mean_rows <- list()
outcomes <- unique(scores[, c("instrument", "scale", "threshold")])
for (o in seq_len(nrow(outcomes))) {
  inst <- outcomes$instrument[o]; scale <- outcomes$scale[o]; t <- outcomes$threshold[o]
  d <- scores[scores$instrument == inst & scores$scale == scale & scores$threshold == t, ]
  d$site <- factor(d$site, levels = levels_)
  for (lv in levels_) {
    s <- d$score[d$site == lv]
    desc_rows[[length(desc_rows) + 1]] <- data.frame(instrument = inst, scale = scale, threshold = t,
      site = lv, n = length(s), mean = mean(s), sd = sd(s))
  }
  fit <- aov(score ~ site, data = d)
  tab <- summary(fit)[[1]]
  welch <- oneway.test(score ~ site, data = d, var.equal = FALSE)
  anova_rows[[o]] <- data.frame(instrument = inst, scale = scale, threshold = t, n = nrow(d),
    df1 = tab$Df[1], df2 = tab$Df[2], ss_between = tab$`Sum Sq`[1], ss_within = tab$`Sum Sq`[2],
    F = tab$`F value`[1], p = tab$`Pr(>F)`[1], welch_F = unname(welch$statistic), welch_p = welch$p.value)
  hsd <- TukeyHSD(fit, "site", conf.level = conf)$site
  ab <- do.call(rbind, strsplit(rownames(hsd), "-"))
  tukey_rows[[o]] <- data.frame(instrument = inst, scale = scale, threshold = t, site_a = ab[, 2],
    site_b = ab[, 1], diff = -hsd[, "diff"], ci_low = -hsd[, "upr"], ci_high = -hsd[, "lwr"],
    p_adj = hsd[, "p adj"])
  dd <- merge(d[, c("id", "site", "score")], cov, by = "id")
  dd <- dd[complete.cases(dd), ]
  dd$gender <- factor(dd$gender)
  mod <- lm(score ~ site + age + gender, data = dd)
  a3 <- Anova(mod, type = 3)
  anc_rows[[o]] <- data.frame(instrument = inst, scale = scale, threshold = t, term = rownames(a3),
    ss = a3$`Sum Sq`, df = a3$Df, F = a3$`F value`, p = a3$`Pr(>F)`, n = nrow(dd))
  es <- summary(emmeans(mod, "site"), level = conf)
  mean_rows[[o]] <- data.frame(instrument = inst, scale = scale, threshold = t,
    site = as.character(es$site), adj_mean = es$emmean, se = es$SE, ci_low = es$lower.CL,
    ci_high = es$upper.CL)
}

# -- correlations of the chosen scales (PERS extraversion, PERS neuroticism, SWLS total) -----------
measures <- list(c("PERS.extraversion", "PERS", "extraversion"), c("PERS.neuroticism", "PERS", "neuroticism"),
                 c("SWLS", "SWLS", "total"))
corr_rows <- list()
for (t in sprintf("%.1f", threshold_pct / 100)) {
  ids <- unique(scores$id[scores$threshold == t])
  site_of <- setNames(raw$education, raw$resp_id)
  col <- function(m) {
    s <- scores[scores$threshold == t & scores$instrument == m[2] & scores$scale == m[3], ]
    setNames(s$score, s$id)[ids]
  }
  vals <- lapply(measures, col)
  for (lv in c("All", levels_)) {
    in_lv <- if (lv == "All") rep(TRUE, length(ids)) else site_of[ids] == lv
    for (i in 1:2) for (j in (i + 1):3) {
      x <- vals[[i]][in_lv]; y <- vals[[j]][in_lv]
      ok <- !is.na(x) & !is.na(y)
      ct <- cor.test(x[ok], y[ok], method = "pearson", conf.level = conf)
      corr_rows[[length(corr_rows) + 1]] <- data.frame(threshold = t, site = lv, x = measures[[i]][1],
        y = measures[[j]][1], n = sum(ok), r = unname(ct$estimate), p = ct$p.value,
        ci_low = ct$conf.int[1], ci_high = ct$conf.int[2])
    }
  }
}

# -- Cronbach's alpha on complete cases of the keyed items -----------------------------------------
rel_rows <- list()
for (key in names(instruments)) {
  for (scale in names(instruments[[key]]$scales)) {
    x <- keyed_items[[key]][, instruments[[key]]$scales[[scale]], drop = FALSE]
    x <- x[complete.cases(x), , drop = FALSE]
    k <- ncol(x)
    alpha <- k / (k - 1) * (1 - sum(apply(x, 2, var)) / var(rowSums(x)))
    rel_rows[[length(rel_rows) + 1]] <- data.frame(instrument = key, scale = scale, n_complete = nrow(x),
      k_items = k, alpha = alpha)
  }
}

write_golden(scores, "scores.csv")
write_golden(do.call(rbind, desc_rows), "descriptives.csv")
write_golden(do.call(rbind, anova_rows), "anova.csv")
write_golden(do.call(rbind, tukey_rows), "tukey.csv")
write_golden(do.call(rbind, corr_rows), "correlations.csv")
write_golden(do.call(rbind, rel_rows), "reliability.csv")
write_golden(do.call(rbind, anc_rows), "ancova.csv")
write_golden(do.call(rbind, mean_rows), "ancova_means.csv")
cat(sprintf("wrote golden/example: %d scores, %d outcomes\n", nrow(scores), nrow(outcomes)))
