"""genoteam.agents."""
