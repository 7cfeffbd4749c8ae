"""llm-train: tokenizer, model initialisation and training that export Hugging Face checkpoints."""
