"""Files and their formats: atomic writes, the cache of derived SymPy expressions, JSON text."""
