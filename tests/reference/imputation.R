# Reference multiple imputation for tests/test_imputation.py: R mice 3.15 predictive mean matching
# (method "pmm", donors = 5, ridge 1e-5, type-1 matching) on inputs/imputation_items.csv (care
# coordinators' RSA answers of the default synthetic study; 8 and 9 are missing codes), with cocapp's
# predictor rule written out as a predictorMatrix: site, age (mean-filled + missing indicator), gender
# ("(missing)" as a level), and the other items whose pairwise-complete correlation with the item is at
# least 0.1 in absolute value (all RSA items share the total scale). m = 40, maxit = 10.
# Writes golden/imputation/estimates.csv: per quantity the pooled estimate (mean over imputations) and
# the between-imputation variance b, from which the test states its Monte-Carlo error.
#   item_mean:<item>      mean answer of each item over the 201 respondents with any RSA answer
#   site_mean:<site>      mean over the site's respondents of their mean raw answer over the 36 items
# Run from the repository root: Rscript tests/reference/imputation.R
suppressMessages(library(mice))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
d <- read.csv(file.path(here, "inputs", "imputation_items.csv"), stringsAsFactors = FALSE, na.strings = "")
items <- grep("^rsa_", names(d), value = TRUE)
for (it in items) d[[it]][!(d[[it]] %in% 1:5)] <- NA
d <- d[rowSums(!is.na(d[items])) > 0, ]
sites <- c("Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence")
X <- data.frame(age_missing = as.numeric(is.na(d$age)))
X$age <- ifelse(is.na(d$age), mean(d$age, na.rm = TRUE), d$age)
gender <- ifelse(is.na(d$gender) | d$gender == "", "(missing)", d$gender)
for (lv in sort(unique(gender))[-1]) X[[paste0("gender_", make.names(lv))]] <- as.numeric(gender == lv)
for (s in sites[-1]) X[[paste0("site_", s)]] <- as.numeric(d$site == s)
data <- cbind(X, d[items])
r <- cor(d[items], use = "pairwise.complete.obs")
pred <- matrix(0, ncol(data), ncol(data), dimnames = list(names(data), names(data)))
pred[items, names(X)] <- 1
pred[items, items] <- (abs(r) >= 0.1) * 1
diag(pred) <- 0
meth <- ifelse(names(data) %in% items, "pmm", "")
imp <- mice(data, m = 40, maxit = 10, method = meth, predictorMatrix = pred, seed = 11,
            printFlag = FALSE)
est <- list()
for (i in seq_len(imp$m)) {
  c <- complete(imp, i)
  q <- c(colMeans(c[items]))
  names(q) <- paste0("item_mean:", items)
  pm <- rowMeans(c[items])
  sm <- sapply(sites, function(s) mean(pm[d$site == s]))
  names(sm) <- paste0("site_mean:", sites)
  est[[i]] <- c(q, sm)
}
E <- do.call(rbind, est)
out <- file.path(here, "golden", "imputation")
dir.create(out, showWarnings = FALSE, recursive = TRUE)
write.csv(data.frame(quantity = colnames(E), m = nrow(E),
                     estimate = sprintf("%.17g", colMeans(E)), b = sprintf("%.17g", apply(E, 2, var))),
          file.path(out, "estimates.csv"), row.names = FALSE)
