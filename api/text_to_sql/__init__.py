"""Text-to-SQL: turn movie questions into safe SQL with Gemini."""
