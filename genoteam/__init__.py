"""genoteam: a team of gene-expression analysis agents, exposed as MCP tools."""

__version__ = "0.1.0"
