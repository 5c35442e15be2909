"""genoteam.data."""
