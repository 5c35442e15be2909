"""genoteam.server."""
