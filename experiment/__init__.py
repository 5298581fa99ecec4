"""The optional JAX experiment (``iclft experiment``, extra ``iclft[experiment]``): the authors'
training protocol, the ladder of exact predictions that attributes its gap to the theory, and
its figures.  JAX and optax are imported only when training runs."""
