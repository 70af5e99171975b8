"""The OpenAI-compatible chat model (any server speaking its API, local ones included)."""
