"""The ask flow: a question in plain language → a metric query (or SQL) of the shape asked → a
checked, read-only answer. `service` orchestrates both engines and both routes; `shape` settles
what a question asks for and checks a query against it; `builtin/` is the engine without a key."""
