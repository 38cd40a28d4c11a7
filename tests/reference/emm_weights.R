# Golden adjusted means under both weightings of categorical covariate levels, for
# tests/test_emm_weights.py, computed independently of cocapp with R (emmeans).
#
# Reads inputs/comparisons_scores.csv and inputs/comparisons_respondents.csv (the same inputs as
# comparisons.R) and writes golden/emm_weights/ancova_means.csv and ancova_posthoc.csv with 17
# significant digits, one row per outcome x covariate model x weighting x site (pair):
#   weights = "equal"         emmeans(model, "site")                          (the default; SPSS EMMEANS
#                                                                              with BY factors)
#   weights = "proportional"  emmeans(model, "site", weights = "proportional") (levels weighted by their
#                                                                              frequency in the model
#                                                                              sample; SPSS with dummy
#                                                                              covariates at their means)
#   pairs: pairs(emmeans, adjust = "tukey") with simultaneous CIs.
# Run: Rscript tests/reference/emm_weights.R   (R >= 4, packages emmeans)

suppressPackageStartupMessages({
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
out <- file.path(here, "golden", "emm_weights")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

sites <- c("Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence")
models <- list(demographic = c("age", "gender", "ethnicity", "relationship_status"),
               service = c("years_in_services"),
               gender_only = c("gender"))
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
mean_rows <- list(); post_rows <- list()
for (o in seq_len(nrow(outcomes))) {
  inst <- outcomes$instrument[o]; scale <- outcomes$scale[o]
  d <- scores[scores$instrument == inst & scores$scale == scale & !is.na(scores$score), ]
  for (mname in names(models)) {
    covs <- models[[mname]]
    dd <- merge(d[, c("id", "site", "score")], resp[, c("id", covs)], by = "id")
    dd <- dd[complete.cases(dd), ]
    dd$site <- droplevels(factor(as.character(dd$site), levels = sites))
    for (cv in intersect(covs, categorical)) dd[[cv]] <- factor(dd[[cv]])
    form <- as.formula(paste("score ~ site +", paste(covs, collapse = " + ")))
    mod <- lm(form, data = dd)
    for (w in c("equal", "proportional")) {
      em <- emmeans(mod, "site", weights = w)
      es <- summary(em, level = conf)
      mean_rows[[length(mean_rows) + 1]] <- data.frame(instrument = inst, scale = scale, model = mname,
        weights = w, site = as.character(es$site), adj_mean = es$emmean, se = es$SE, df = es$df,
        ci_low = es$lower.CL, ci_high = es$upper.CL)
      ps <- summary(pairs(em, adjust = "tukey"), infer = c(TRUE, TRUE), level = conf)
      ab <- do.call(rbind, strsplit(as.character(ps$contrast), " - "))
      post_rows[[length(post_rows) + 1]] <- data.frame(instrument = inst, scale = scale, model = mname,
        weights = w, site_a = ab[, 1], site_b = ab[, 2], diff = ps$estimate, se = ps$SE, df = ps$df,
        t = ps$t.ratio, ci_low = ps$lower.CL, ci_high = ps$upper.CL, p_adj = ps$p.value)
    }
  }
}
write_golden(do.call(rbind, mean_rows), "ancova_means.csv")
write_golden(do.call(rbind, post_rows), "ancova_posthoc.csv")
