"""iclft.proofs_check: the claims registry and the ``iclft`` command line.

This is where :mod:`theory` (SymPy, dimension-free) and :mod:`numerics` (NumPy, concrete
``d``) meet.  Conventions are those of docs/theory.md: token ``z = (1, x, y)``, normalisation
by ``n+1``, ``W`` acting on the query (``M = W^T`` in row-token code).
"""
