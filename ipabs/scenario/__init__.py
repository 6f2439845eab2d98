"""The scenario format: schema, loading and validation, tapes, and the generated key reference."""
