"""Files on disk: atomic writes and the cache of derived SymPy expressions."""
