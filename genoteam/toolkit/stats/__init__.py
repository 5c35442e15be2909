"""genoteam.toolkit.stats."""
