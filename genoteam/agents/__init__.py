"""genoteam.agents: the agent team (PI, GEO/TCGA data engineers, statistician, reviewer, domain expert).

Entry points: `engine.run_team` (an AnalysisEngine) and `genoteam run` (cli.py). The parts:
guidelines (action units), messages (typed, routed, recorded), loop (plan / code / run / check /
review / revise), memory (SQLite code memory), llm (litellm per role, ledger, budget), pi (cohort
plan), manifest and report (provenance.json, report.md). See docs/agents.md.
"""
