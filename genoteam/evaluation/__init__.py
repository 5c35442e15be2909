"""genoteam.evaluation."""
