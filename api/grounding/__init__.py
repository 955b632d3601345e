"""Value grounding: the names in a question mapped to values that exist in the marts."""
