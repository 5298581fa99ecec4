"""``python -m proofs_check`` is the ``iclft`` program.
"""
import sys

from .cli import main

sys.exit(main())
