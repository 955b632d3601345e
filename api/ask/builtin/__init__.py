"""The built-in engine: questions → metric queries, without a language model."""
