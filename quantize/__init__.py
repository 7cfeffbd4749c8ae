"""llm-quantize: int8 / int4 checkpoints that vLLM serves (work in progress: algorithms first)."""
