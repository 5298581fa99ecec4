"""The built-in objectives are the paper's, term by term: the generic tests read the
objectives from the vocabulary, so their definitions are checked once, here, against the
paper's (pretraining: the m-shot error averaged over the sphere; ZS: the 0-shot error on
theta0; FS: the N-shot error on theta0; ZS + lam FS)."""
import vocabulary

PAPER = {
    "pretrain": [("m", "sphere", 1)],
    "zs": [(0, "target", 1)],
    "fs": [("N", "target", 1)],
    "zsfs": [(0, "target", 1), ("N", "target", "lam")],
}


def test_builtin_objectives_are_the_papers():
    for name, terms in PAPER.items():
        got = [(t.shots, t.task, t.weight) for t in vocabulary.OBJECTIVES[name].terms]
        assert got == terms, name
    assert vocabulary.TASKS["target"].kappa == 1 and vocabulary.TASKS["target"].rho == 0
    assert vocabulary.TASKS["sphere"].kappa is None
