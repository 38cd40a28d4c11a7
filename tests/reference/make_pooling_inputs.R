# Writes inputs/pooling_imputed.csv once: a small study (3 sites, outcome y and a second outcome z with
# values missing at random, numeric covariate x, two-level factor g) and m = 5 imputations of it by
# R mice (predictive mean matching), in the long form mice::complete(imp, "long", include = TRUE)
# gives (.imp = 0 is the incomplete data). The file is committed; pooling.R reads it back with as.mids
# and tests/test_pooling.py analyses the same imputed datasets with cocapp's own code.
# Run from the repository root: Rscript tests/reference/make_pooling_inputs.R
suppressMessages(library(mice))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
set.seed(20260115)
n <- 150
site <- factor(rep(c("Artois", "Burgundy", "Champagne"), times = c(60, 50, 40)),
               levels = c("Artois", "Burgundy", "Champagne"))
x <- round(rnorm(n, 40, 12))
g <- factor(sample(c("female", "male"), n, replace = TRUE))
y <- round(3 + 0.3 * (site == "Burgundy") - 0.2 * (site == "Champagne") + 0.02 * (x - 40) +
           0.1 * (g == "male") + rnorm(n, 0, 0.6), 2)
z <- round(10 + 2 * y + rnorm(n, 0, 1.5), 1)
y[runif(n) < plogis(-1.6 + 0.03 * (x - 40))] <- NA
z[runif(n) < 0.2] <- NA
d <- data.frame(site = site, y = y, z = z, x = x, g = g)
imp <- mice(d, m = 5, method = c("", "pmm", "pmm", "", ""), seed = 7, printFlag = FALSE)
long <- complete(imp, "long", include = TRUE)
write.csv(long, file.path(here, "inputs", "pooling_imputed.csv"), row.names = FALSE, na = "")

# -- items of an instrument with subscales, for the pooled correlations between chosen scales --------
# inputs/imputation_items.csv (care coordinators' RSA answers of the default synthetic study; 8 and 9 are
# missing codes) imputed m = 5 times by R mice (pmm, every other item a predictor, maxit = 5); written as
# the completed datasets (.imp = 1 ... 5) of the respondents with any RSA answer.
items_d <- read.csv(file.path(here, "inputs", "imputation_items.csv"), stringsAsFactors = FALSE,
                    na.strings = "")
rsa <- grep("^rsa_", names(items_d), value = TRUE)
for (it in rsa) items_d[[it]][!(items_d[[it]] %in% 1:5)] <- NA
items_d <- items_d[rowSums(!is.na(items_d[rsa])) > 0, c("id", "site", rsa)]
imp2 <- mice(items_d[rsa], m = 5, maxit = 5, method = "pmm", seed = 11, printFlag = FALSE)
done <- do.call(rbind, lapply(seq_len(5), function(i) {
  data.frame(.imp = i, id = items_d$id, site = items_d$site, complete(imp2, i), check.names = FALSE)
}))
write.csv(done, file.path(here, "inputs", "pooling_items_imputed.csv"), row.names = FALSE, na = "")
