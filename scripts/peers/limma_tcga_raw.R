# limma on a raw UCSC Xena TCGA matrix, with the analyst symbol rule (org.Hs.eg.db), tumour vs normal
# from the barcode, Age and Gender from the clinical matrix, constant genes left out; the peer of
# tests/stats/test_stats_limma_peers.py. Args: expression.gz clinicalMatrix out.csv prior.txt
suppressPackageStartupMessages({library(limma); library(org.Hs.eg.db)})
args <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.delim(gzfile(args[1]), row.names = 1, check.names = FALSE))
clinical <- read.delim(args[2], row.names = 1, check.names = FALSE)
# the analyst's symbol rule, from the same org.Hs.eg.db release
syms <- toTable(org.Hs.egSYMBOL)
aliases <- toTable(org.Hs.egALIAS2EG)
aliases$target <- syms$symbol[match(aliases$gene_id, syms$gene_id)]
targets <- lapply(split(aliases$target, toupper(aliases$alias_symbol)), unique)
up <- toupper(rownames(y))
current <- syms$symbol[match(up, toupper(syms$symbol))]
measured <- unique(current[!is.na(current)])
final <- current
for (i in which(is.na(current))) {
  t <- targets[[up[i]]]
  if (length(t) == 1 && !(t %in% measured)) final[i] <- t
}
keep <- !is.na(final)
y <- avereps(y[keep, ], ID = final[keep])
code <- as.integer(substr(sub(".*-", "", colnames(y)), 1, 2))
trait <- ifelse(code <= 9, 1, ifelse(code <= 19, 0, NA))
age <- suppressWarnings(as.numeric(clinical[colnames(y), "age_at_initial_pathologic_diagnosis"]))
gender <- c(FEMALE = 0, MALE = 1)[toupper(clinical[colnames(y), "gender"])]
ok <- !is.na(trait) & !is.na(age) & !is.na(gender)
y <- y[, ok]
y <- y[apply(y, 1, function(r) max(r) > min(r)), ]  # constant genes out before the prior fit
design <- model.matrix(~ trait + age + gender, data.frame(trait = trait[ok], age = age[ok], gender = gender[ok]))
fit <- eBayes(lmFit(y, design))
top <- topTable(fit, coef = "trait", number = Inf, adjust.method = "BH", sort.by = "none")
write.csv(data.frame(gene = rownames(top), logFC = top$logFC, adj_p = top$adj.P.Val), args[3], row.names = FALSE)
writeLines(c(format(fit$df.prior, digits = 17), as.character(nrow(y))), args[4])
