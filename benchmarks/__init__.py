"""llm-bench and the server comparisons behind the project's performance claims."""
