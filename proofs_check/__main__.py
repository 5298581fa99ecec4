"""``python -m proofs_check`` is the ``iclft`` program.

Conventions (docs/theory.md): token ``z = (1, x, y)``, attention average normalised by the
token count ``n+1`` (query included), ``W`` acting on the query (``M = W^T`` in
row-token code), ``W = K^T Q`` in the separate form.
"""
import sys

from .cli import main

sys.exit(main())
