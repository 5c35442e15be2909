"""genoteam.pipeline."""
