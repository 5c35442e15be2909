"""The analysis toolkit: pure functions that analysis code calls inside the sandbox.

No LLM, no Docker, and no imports from the rest of genoteam.
"""
