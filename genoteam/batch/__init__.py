"""A whole task file as one resumable batch: plan graph, executors, batch folder, summary, scores.

Layer: above pipeline, agents, evaluation and sandbox (docs/architecture.md); the server may use it.
"""
