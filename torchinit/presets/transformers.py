"""Language-model presets: Hugging Face GPT-2 and BERT, nanoGPT, LLaMA-style models."""
