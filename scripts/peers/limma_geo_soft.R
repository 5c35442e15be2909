# limma on a GEO family SOFT read by GEOquery: probes averaged per gene symbol (avereps), trait from
# the `disease` characteristics line (normal = 0), `batch` as a factor when asked; the peer of
# tests/stats/test_stats_limma_peers.py. Args: family.soft.gz out.csv with_batch(0|1)
suppressPackageStartupMessages({library(limma); library(GEOquery)})
args <- commandArgs(trailingOnly = TRUE)
gse <- getGEO(filename = args[1])
gpl <- Table(GPLList(gse)[[1]])
gsms <- GSMList(gse)
ids <- as.character(gpl$ID)
y <- sapply(gsms, function(g) { t <- Table(g); as.numeric(t$VALUE[match(ids, t$ID_REF)]) })
rownames(y) <- ids
field <- function(g, key) {
  lines <- Meta(g)$characteristics_ch1
  hit <- grep(paste0("^", key, ":"), lines, value = TRUE)
  trimws(sub("^[^:]*:", "", hit[1]))
}
trait <- as.numeric(sapply(gsms, field, key = "disease") != "normal")
y <- avereps(y, ID = as.character(gpl[["Gene Symbol"]]))
if (args[3] == "1") {
  batch <- factor(sapply(gsms, field, key = "batch"))
  design <- model.matrix(~ trait + batch)
} else {
  design <- model.matrix(~ trait)
}
fit <- eBayes(lmFit(y, design))
top <- topTable(fit, coef = "trait", number = Inf, adjust.method = "BH", sort.by = "none")
write.csv(data.frame(gene = rownames(top), logFC = top$logFC, t = top$t, adj_p = top$adj.P.Val),
          args[2], row.names = FALSE)
