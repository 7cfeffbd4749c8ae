"""Helpers shared by the llm-deploy command-line tools (no dependency on any of them)."""
