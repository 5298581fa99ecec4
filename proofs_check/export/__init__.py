"""What iclft writes for a paper: the LaTeX document of derived expressions, text with marked
mathematics (:mod:`.prose`), and the figures in one style."""
