"""genoteam.sandbox."""
