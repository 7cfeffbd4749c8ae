"""llm-serve: an OpenAI-compatible FastAPI server over the vLLM engine."""

__version__ = "0.1.0"
