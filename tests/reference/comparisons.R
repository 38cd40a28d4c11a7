# Golden site-comparison statistics for tests/test_anova.py, test_posthoc.py, test_ancova.py and
# test_correlation.py, computed independently of cocapp with R (stats, car, emmeans).
# Reads inputs/comparisons_scores.csv and inputs/comparisons_respondents.csv (written once by
# make_comparisons_inputs.py) and writes golden/comparisons/*.csv with 17 significant digits.
#   anova.csv          aov / anova (SS, F, p), car::leveneTest(center = mean | median), oneway.test (Welch)
#   tukey.csv          TukeyHSD, re-signed to diff = mean(site_a) - mean(site_b) (TukeyHSD prints b - a)
#   games_howell.csv   Games-Howell written out in base R with ptukey / qtukey
#   ancova.csv         car::Anova(lm(...), type = 3) with contr.sum; listwise n
#   ancova_means.csv   emmeans::emmeans(model, "site") (numeric covariates at mean, factor levels equal weights)
#   ancova_posthoc.csv pairs(emmeans, adjust = "tukey" | "bonferroni" | "sidak"), with CIs
#   ancova_slopes.csv  anova(m0, m0 + site:covariate) per covariate
#   correlations.csv   cor.test (Pearson, Fisher-z CI), pairwise complete, pooled and per site
# Site order and models transcribed from config.yaml (service users).
# Run from the repository root: Rscript tests/reference/comparisons.R

suppressMessages({
  library(car)
  library(emmeans)
})
options(contrasts = c("contr.sum", "contr.poly"))
emm_options(msg.interaction = FALSE)

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
scores <- read.csv(file.path(here, "inputs", "comparisons_scores.csv"), stringsAsFactors = FALSE,
                   na.strings = "")
resp <- read.csv(file.path(here, "inputs", "comparisons_respondents.csv"), stringsAsFactors = FALSE,
                 na.strings = "")
out <- file.path(here, "golden", "comparisons")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

sites <- c("Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence")
models <- list(demographic = c("age", "gender", "ethnicity", "relationship_status"),
               service = c("years_in_services"))
categorical <- c("gender", "ethnicity", "relationship_status")
conf <- 0.95

write_golden <- function(df, name) {
  for (col in names(df)) {
    if (is.numeric(df[[col]])) {
      df[[col]] <- ifelse(is.na(df[[col]]), NA, sprintf("%.17g", df[[col]]))
    }
  }
  write.csv(df, file.path(out, name), row.names = FALSE, na = "")
}

outcomes <- unique(scores[, c("instrument", "scale")])
anova_rows <- list(); tukey_rows <- list(); gh_rows <- list()
anc_rows <- list(); mean_rows <- list(); post_rows <- list(); slope_rows <- list()

for (o in seq_len(nrow(outcomes))) {
  inst <- outcomes$instrument[o]; scale <- outcomes$scale[o]
  d <- scores[scores$instrument == inst & scores$scale == scale & !is.na(scores$score), ]
  d$site <- droplevels(factor(d$site, levels = sites))
  k <- nlevels(d$site)

  # -- one-way ANOVA, Levene, Welch ----------------------------------------------------------------
  fit <- aov(score ~ site, data = d)
  tab <- summary(fit)[[1]]
  lev_mean <- leveneTest(score ~ site, data = d, center = mean)
  lev_med <- leveneTest(score ~ site, data = d, center = median)
  welch <- tryCatch(oneway.test(score ~ site, data = d, var.equal = FALSE), error = function(e) NULL)
  wf <- if (is.null(welch) || any(table(d$site) < 2)) c(NA, NA, NA, NA) else
    c(welch$statistic, welch$parameter[1], welch$parameter[2], welch$p.value)
  anova_rows[[o]] <- data.frame(
    instrument = inst, scale = scale, n = nrow(d), df1 = tab$Df[1], df2 = tab$Df[2],
    ss_between = tab$`Sum Sq`[1], ss_within = tab$`Sum Sq`[2], F = tab$`F value`[1], p = tab$`Pr(>F)`[1],
    levene_mean_F = lev_mean$`F value`[1], levene_mean_p = lev_mean$`Pr(>F)`[1],
    levene_median_F = lev_med$`F value`[1], levene_median_p = lev_med$`Pr(>F)`[1],
    welch_F = wf[1], welch_df1 = wf[2], welch_df2 = wf[3], welch_p = wf[4])

  # -- Tukey-Kramer (TukeyHSD labels "b-a" with diff = b - a; we store a - b, a before b) ----------
  hsd <- TukeyHSD(fit, "site", conf.level = conf)$site
  pairs_ab <- do.call(rbind, strsplit(rownames(hsd), "-"))
  tukey_rows[[o]] <- data.frame(instrument = inst, scale = scale, site_a = pairs_ab[, 2],
                                site_b = pairs_ab[, 1], diff = -hsd[, "diff"], ci_low = -hsd[, "upr"],
                                ci_high = -hsd[, "lwr"], p_adj = hsd[, "p adj"])

  # -- Games-Howell, base R --------------------------------------------------------------------------
  m <- tapply(d$score, d$site, mean); v <- tapply(d$score, d$site, var); nn <- tapply(d$score, d$site, length)
  lv <- levels(d$site); rows <- list()
  for (i in seq_len(k - 1)) for (j in (i + 1):k) {
    a <- lv[i]; b <- lv[j]
    diff <- m[[a]] - m[[b]]
    se <- sqrt(v[[a]] / nn[[a]] + v[[b]] / nn[[b]])
    df <- (v[[a]] / nn[[a]] + v[[b]] / nn[[b]])^2 /
      ((v[[a]] / nn[[a]])^2 / (nn[[a]] - 1) + (v[[b]] / nn[[b]])^2 / (nn[[b]] - 1))
    q <- abs(diff) / (se / sqrt(2))
    crit <- qtukey(conf, k, df) / sqrt(2)
    rows[[length(rows) + 1]] <- data.frame(instrument = inst, scale = scale, site_a = a, site_b = b,
      diff = diff, se = se, df = df, q = q, ci_low = diff - crit * se, ci_high = diff + crit * se,
      p_adj = ptukey(q, k, df, lower.tail = FALSE))
  }
  gh_rows[[o]] <- do.call(rbind, rows)

  # -- ANCOVA per covariate model --------------------------------------------------------------------
  for (mname in names(models)) {
    covs <- models[[mname]]
    dd <- merge(d[, c("id", "site", "score")], resp[, c("id", covs)], by = "id")
    dd <- dd[complete.cases(dd), ]
    dd$site <- droplevels(factor(as.character(dd$site), levels = sites))
    for (cv in intersect(covs, categorical)) dd[[cv]] <- factor(dd[[cv]])
    form <- as.formula(paste("score ~ site +", paste(covs, collapse = " + ")))
    mod <- lm(form, data = dd)
    a3 <- Anova(mod, type = 3)
    ss_res <- a3["Residuals", "Sum Sq"]
    anc_rows[[length(anc_rows) + 1]] <- data.frame(instrument = inst, scale = scale, model = mname,
      term = rownames(a3), ss = a3$`Sum Sq`, df = a3$Df, F = a3$`F value`, p = a3$`Pr(>F)`,
      partial_eta2 = ifelse(rownames(a3) == "Residuals", NA, a3$`Sum Sq` / (a3$`Sum Sq` + ss_res)),
      n = nrow(dd))
    em <- emmeans(mod, "site")
    es <- summary(em, level = conf)
    mean_rows[[length(mean_rows) + 1]] <- data.frame(instrument = inst, scale = scale, model = mname,
      site = as.character(es$site), adj_mean = es$emmean, se = es$SE, df = es$df, ci_low = es$lower.CL,
      ci_high = es$upper.CL)
    for (adj in c("tukey", "bonferroni", "sidak")) {
      ps <- summary(pairs(em, adjust = adj), infer = c(TRUE, TRUE), level = conf)
      ab <- do.call(rbind, strsplit(as.character(ps$contrast), " - "))
      post_rows[[length(post_rows) + 1]] <- data.frame(instrument = inst, scale = scale, model = mname,
        method = adj, site_a = ab[, 1], site_b = ab[, 2], diff = ps$estimate, se = ps$SE, df = ps$df,
        t = ps$t.ratio, ci_low = ps$lower.CL, ci_high = ps$upper.CL, p_adj = ps$p.value)
    }
    for (cv in covs) {
      m1 <- update(mod, as.formula(paste(". ~ . + site:", cv)))
      av <- anova(mod, m1)
      slope_rows[[length(slope_rows) + 1]] <- data.frame(instrument = inst, scale = scale, model = mname,
        covariate = cv, df1 = av$Df[2], df2 = av$Res.Df[2], F = av$F[2], p = av$`Pr(>F)`[2])
    }
  }
}

# -- correlations of the totals, pairwise complete, pooled and per site ----------------------------
tot <- scores[scores$scale == "total", ]
wide <- reshape(tot[, c("id", "site", "instrument", "score")], idvar = c("id", "site"),
                timevar = "instrument", direction = "wide")
measures <- c("RSA", "STAR-P", "ES")
corr_rows <- list()
for (s in c("All", sites)) {
  w <- if (s == "All") wide else wide[wide$site == s, ]
  for (i in 1:2) for (j in (i + 1):3) {
    x <- w[[paste0("score.", measures[i])]]; y <- w[[paste0("score.", measures[j])]]
    ok <- !is.na(x) & !is.na(y)
    ct <- cor.test(x[ok], y[ok], method = "pearson", conf.level = conf)
    corr_rows[[length(corr_rows) + 1]] <- data.frame(site = s, x = measures[i], y = measures[j],
      n = sum(ok), r = unname(ct$estimate), p = ct$p.value, ci_low = ct$conf.int[1], ci_high = ct$conf.int[2])
  }
}

write_golden(do.call(rbind, anova_rows), "anova.csv")
write_golden(do.call(rbind, tukey_rows), "tukey.csv")
write_golden(do.call(rbind, gh_rows), "games_howell.csv")
write_golden(do.call(rbind, anc_rows), "ancova.csv")
write_golden(do.call(rbind, mean_rows), "ancova_means.csv")
write_golden(do.call(rbind, post_rows), "ancova_posthoc.csv")
write_golden(do.call(rbind, slope_rows), "ancova_slopes.csv")
write_golden(do.call(rbind, corr_rows), "correlations.csv")
cat("wrote", out, "\n")
