"""iclft.proofs_check: the claims registry and the ``iclft`` command line.

This is where :mod:`theory` (SymPy, dimension-free) and :mod:`numerics` (NumPy, concrete
``d``) meet.

Conventions (the one statement for the package; modules refer here; the full statement is
docs/theory.md section 1): token ``z = (1, x, y)``, ``D = d + 2``; ``S`` includes the query
and is normalised by the token count ``n+1``; ``W`` acts on the query (``M = W^T`` in
row-token code), ``W = K^T Q`` in the separate form; names (objectives, tasks, methods,
coordinates) are those of :mod:`vocabulary`.
"""
