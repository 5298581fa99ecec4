"""``python -m proofs_check`` is the ``iclft`` program.
"""
import sys

from proofs_check.cli.main import main

sys.exit(main())
