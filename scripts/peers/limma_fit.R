# R limma lmFit + eBayes: the peer of genoteam's moderated t (peer tests and benchmarks/bench_stats.py).
# usage: Rscript limma_fit.R EXPRESSION_CSV DESIGN_CSV OUT_CSV PRIOR_TXT  (coefficient 2 is reported)
suppressPackageStartupMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE))
design <- as.matrix(read.csv(args[2], row.names = 1, check.names = FALSE))
fit <- eBayes(lmFit(y, design))
k <- 2
out <- data.frame(gene = rownames(y), coefficient = fit$coefficients[, k], t = fit$t[, k],
                  p_value = fit$p.value[, k], df_total = fit$df.total, sigma = fit$sigma,
                  ord_t = fit$coefficients[, k] / fit$stdev.unscaled[, k] / fit$sigma)
write.csv(out, args[3], row.names = FALSE)
writeLines(c(format(fit$df.prior, digits = 17), format(fit$s2.prior, digits = 17),
             as.character(packageVersion("limma"))), args[4])
