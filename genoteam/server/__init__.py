"""The MCP server: tools, resources and prompts (app), jobs on disk run by detached workers
(jobs, worker), engine selection (engines), transports and auth (transports), `genoteam serve`
and `genoteam smoke` (cli, smoke), and the server image build (image). See docs/server.md."""
