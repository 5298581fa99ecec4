"""Tests of the LaTeX export (``iclft export-latex PATH``): ``proofs_check.export.latex_document``,
``latex_content``, ``latex_lines``, ``latex_roundtrip`` and ``latex_text``.

Conventions: docs/theory.md section 1.  Checks: every exported expression parses back
(SymPy's lark LaTeX parser) to an expression equal to the original, the broken lines join
to the un-broken string, the document compiles with pdflatex, and the file is written
atomically.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import sympy as sp

pytest.importorskip("lark")

from proofs_check.export import latex_content as LC  # noqa: E402
from proofs_check.export import latex_document as LE  # noqa: E402
from proofs_check.export import latex_lines as LL  # noqa: E402
from proofs_check.export import latex_roundtrip as RT  # noqa: E402
from proofs_check.export import latex_text as LT  # noqa: E402
from theory import printing as TP  # noqa: E402
from proofs_check.claims.claim import ClaimResult, Evidence  # noqa: E402


def _fake_results():
    nasty = r"under_score 100% a&b #1 x^2 ~y back\slash <lt> >gt| {brace} $ θ0 ⊥ σ² ≥ → ∞ é"
    return [
        ClaimResult("fake.ok", "A verified claim", "statement " + nasty, r"c^\star = \frac{m+1}{m+1+d}",
                    "verified", [Evidence("symbolic", "desc " + nasty, True,
                                          {"value": 0.123456789, "list": list(range(20)),
                                           "text": nasty, "nested": {"a": 1.5, "b": [1, 2]}})],
                    grid=[{"d": 2, "m": 5, "sigma2": 0.1}, {"d": 3, "m": 5, "sigma2": 0.0, "passed": False}],
                    region="fails where (1 + c a)^2 <= 1_x & 50%", disagreements=["the authors' code says m/(m+1+d) #x"],
                    seconds=1.25),
        ClaimResult("fake.refuted", "Refuted", "s", r"\frac{1}{2", "refuted",
                    [Evidence("numeric", "long " + "N**2*d*lam*sigma2+" * 40, False, {})]),
        ClaimResult("fake.error", "Error", "s", r"\begin{evil}", "error", [],
                    error="ValueError: bad \\input{x} (file.py:3)"),
    ]


@pytest.fixture(scope="module")
def exports():
    return LC.exported_expressions()


def test_symbol_names_parse_back():
    from theory import symbols as S
    back = RT.back_map()
    assert set(back.values()) >= {S.a, S.b, S.q, S.alpha, S.beta, S.h, S.kappa, S.rho, S.c, S.d,
                                  S.n, S.N, S.m, S.lam, *S.K.values(), *S.Q.values()}
    assert sp.sqrt(S.sigma2) in back.values()


def test_roundtrip_small_and_negative():
    from theory.symbols import a, c, d, sigma2
    e = (a ** 2 * d + 3 * sigma2 ** 2) / (c * (d + 4))
    assert RT.roundtrip_check(TP.to_parseable(e), e)
    assert not RT.roundtrip_check(TP.to_parseable(e), e + 1)
    assert not RT.roundtrip_check(r"\frac{1}{", e)          # parse error -> False
    assert not RT.roundtrip_check("x + a", a)                # unknown symbol -> False


def test_lines_join_to_unbroken_string(exports):
    keys = [e.key for e in exports]
    assert len(keys) == len(set(keys))
    assert {"expected_loss", "sphere_loss", "pretrain_loss", "zs", "fs", "pretrain.c_star",
            "balancedness", "zs.all.flow_limit.a", "group.R"} <= set(keys)
    for obj in ("pretrain", "zs", "fs"):
        assert any(k.startswith(f"grad.{obj}.merged.") for k in keys)
    assert any(k.startswith("separate.chain.K.") for k in keys)
    assert any(k.startswith("separate.chain.Q.") for k in keys)
    for e in exports:
        assert " ".join(e.lines) == e.latex
        assert [TP.to_display(p) for p in e.parse_lines] == e.lines
        for ln in e.lines:
            assert len(ln) <= LL.LINE_CHARS + 40, (e.key, ln)
            if not isinstance(e.expr, sp.MatrixBase):
                assert "\\\\" not in ln and "&" not in ln
    assert max(len(e.lines) for e in exports) > 3  # long expressions really are broken


def test_no_display_longer_than_12_lines(exports):
    long = {e.key: len(e.lines) for e in exports if len(e.lines) > 12}
    assert not long, long


def test_paste_ready_printing(exports):
    """Implicit products, sigma^2 for the noise, the vocabulary's coordinate names."""
    import re

    import vocabulary as V
    for e in exports:
        assert not re.search(r"(?<![0-9]) ?\\cdot ?(?![0-9])", e.latex), e.key
        assert "sigma2" not in e.latex and r"\sigma_{2}" not in e.latex
    chain = " ".join(e.latex for e in exports if e.key.startswith("separate."))
    for bs in V.BASIS.values():
        assert f"K_{{{bs.tex}}}" in chain or bs.name in ("ty", "yy") and f"Q_{{{bs.tex}}}" in chain
    assert r"K_{\perp}" in chain and "K_{p}" not in chain
    by_key = {e.key: e for e in exports}
    assert by_key["pretrain.c_star"].latex == r"\frac{m + 1}{d \left(\sigma^{2} + 1\right) + m + 1}"
    assert by_key["pretrain.min_loss"].latex.endswith("}{R}")  # R named once, used thereafter
    assert by_key["group.R"].latex == r"d \left(\sigma^{2} + 1\right) + m + 1"
    assert r"\sigma^{2}" in by_key["zs"].latex


def test_chain_rule_equals_the_separate_gradient():
    """The displayed chain rule (grad_K = Q G^T, grad_Q = K G with G the merged grad_W at
    W = K^T Q) against theory's separate-form gradient, coefficient by coefficient."""
    from theory import printing as TL
    from theory import gradient
    sub = TL.separate_substitution_named()
    chain = TL.chain_rule()
    for obj in ("zs", "pretrain"):
        merged_W = gradient(obj, "all", "merged").matrices["W"]
        G = {TL.G[TL.MANIFOLD_BASIS[bn]]: sp.together(v.subs(sub, simultaneous=True))
             for bn, v in merged_W.items()}
        G.update({g: 0 for g in TL.G.values() if g not in G})
        sep = gradient(obj, "all", "separate").matrices
        for M in ("K", "Q"):
            want = {TL.MANIFOLD_BASIS[bn]: v for bn, v in sep[M].items()}
            for bn in set(want) | set(chain[M]):
                got = chain[M].get(bn, sp.Integer(0)).xreplace(G)
                num, _ = sp.fraction(sp.together(got - want.get(bn, 0)))
                assert sp.expand(num) == 0, (obj, M, bn)


def test_roundtrip_one_of_each_kind(exports):
    """A cheap representative round trip (group, loss, optimum, matrix, gradient, chain
    rule, equation); the full set is the slow test below."""
    picked = ["group.R", "zs", "pretrain.c_star", "zs.all.min_gram", "grad.zs.merged.W.perp",
              "separate.chain.Q.tt", "separate.W.beta", "zs.all.flow_limit.equation",
              "fs.b_at_zs_a"]
    by_key = {e.key: e for e in exports}
    bad = [k for k in picked if not RT.roundtrip_export(by_key[k])]
    assert not bad
    # the check can fail: a wrong expression, or a display that is not the parsed text
    e = by_key["zs"]
    assert not RT.roundtrip_check(e.parse_latex, e.expr + 1)
    assert not RT.roundtrip_check(e.parse_latex, e.expr, e.latex + " + 1")


def _check_one(i):
    e = LC.exported_expressions()[i]
    return e.key, RT.roundtrip_export(e)


@pytest.mark.slow
def test_every_exported_expression_roundtrips(exports):
    """Parse every exported display once with SymPy's lark parser.
    Serial on purpose: the suite already runs on two worker processes, and forking a worker
    that has imported JAX (the experiment tests) can deadlock."""
    results = [_check_one(i) for i in range(len(exports))]
    bad = [k for k, ok in results if not ok]
    assert not bad, f"do not round-trip: {bad}"


def test_same_latex_under_two_hash_seeds():
    code = ("import theory; from theory import printing as TL;"
            "print(theory.latex('pretrain.c_star')); print(theory.latex('grad.zs.merged.all.W'));"
            "print(theory.latex('zs.v.min_loss'))")
    outs = []
    for seed in ("0", "7"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=600, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        assert r.returncode == 0, r.stderr[-500:]
        outs.append(r.stdout)
    assert outs[0] == outs[1]


def test_evidence_is_typeset_as_mathematics():
    """Marked evidence (proofs_check.export.prose) is typeset as mathematics; plain strings stay
    literal text (their code-like words in \\texttt), never guessed into math mode."""
    from proofs_check.export.prose import tx
    doc = LE.render_document(_fake_results())
    claims = doc[doc.index(r"\section{Claims}"):]
    assert "..." not in claims and r"\texttt{N*" in claims  # the plain long formula: literal text
    r = _fake_results()[0]
    r.evidence = [Evidence("symbolic", tx("limit $(n->oo)$ of $N**2*d*sigma2$ is {}", 1.5e-07), True)]
    text = LE.render_document([r])
    assert r"$(n \to \infty)$" in text and r"$N^{2}\,d\,\sigma^2$" in text
    assert r"$1.5 \times 10^{-7}$" in text


def test_no_claims_document(tmp_path):
    doc = LE.render_document(None)
    assert r"\section{Claims}" not in doc and doc.rstrip().endswith(r"\end{document}")
    summary = LE.export_latex(tmp_path / "d.tex", claims=False)
    assert summary["claims"] == 0 and (tmp_path / "d.tex").read_text() == doc


def test_escape_text_specials():
    out = LT.escape_text(r"a_b 5% & # ^ ~ \ < > | { } $ θ é", breakable=False)
    for raw in ("a_b", " % ", " & ", " # "):
        assert raw not in out
    assert r"\_" in out and r"\%" in out and r"\&" in out and r"\#" in out
    assert r"\textbackslash{}" in out and r"\ensuremath{<}" in out and r"\ensuremath{>}" in out and r"\ensuremath{|}" in out
    assert r"$\theta$" in out and "[U+00E9]" in out
    assert all(ord(ch) < 127 for ch in out)


def _pdflatex_or_skip():
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is not on PATH but CI is set: install texlive-latex-base")
        pytest.skip("pdflatex not installed (set CI to make this a failure)")
    return exe


def _compile(exe, tmp_path, text):
    tex = tmp_path / "doc.tex"
    tex.write_text(text, encoding="utf-8")
    proc = subprocess.run([exe, "-halt-on-error", "-interaction=nonstopmode", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = (tmp_path / "doc.log").read_text(errors="replace") if (tmp_path / "doc.log").exists() else ""
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 10_000
    return log


def test_document_compiles_with_fake_claims(tmp_path):
    exe = _pdflatex_or_skip()
    log = _compile(exe, tmp_path, LE.render_document(_fake_results()))
    assert "Overfull \\hbox" not in log or log.count("Overfull \\hbox") <= 3


def test_real_claims_export_compiles(tmp_path):
    """A real (cheap) pair of claims through export_latex, then pdflatex."""
    from proofs_check.claims import registry, run_claim
    picked = [c for c in registry() if c.id in ("pretrain.optimum", "zs.v.optimum")]
    assert len(picked) == 2
    results = [run_claim(c) for c in picked]
    target = tmp_path / "out.tex"
    summary = LE.export_latex(target, results)
    assert summary["path"] == str(target) and summary["claims"] == 2
    assert summary["expressions"] == len(LC.exported_expressions())
    text = target.read_text(encoding="utf-8")
    assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
    for r in results:
        assert LT.escape_text(r.id) in text
    exe = _pdflatex_or_skip()
    _compile(exe, tmp_path, text)


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "doc.tex"

    def boom(results):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while rendering

    monkeypatch.setattr(LE, "render_document", boom)
    with pytest.raises(KeyboardInterrupt):
        LE.export_latex(target, _fake_results())
    assert list(tmp_path.iterdir()) == []


def test_write_failure_keeps_old_file(tmp_path, monkeypatch):
    import proofs_check.storage.atomic as atomic
    target = tmp_path / "doc.tex"
    target.write_text("old")
    real = atomic.os.fsync

    def fail(fd):
        real(fd)
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(OSError):
        LE.export_latex(target, _fake_results())
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.tex"]


def test_no_eval_or_sympify_on_strings():
    import inspect
    for module in (LE, LC, LL, RT, LT):
        src = inspect.getsource(module)
        for bad in ("eval(", "sympify(", "parse_expr(", "exec("):
            assert bad not in src, (module.__name__, bad)


def test_bad_path_fails_before_running_claims(tmp_path, monkeypatch):
    import proofs_check.claims as claims_pkg

    def no_run():
        raise AssertionError("claims must not run for a bad path")

    monkeypatch.setattr(claims_pkg, "registry", no_run)
    with pytest.raises(ValueError, match="path"):
        LE.export_latex(tmp_path / "missing" / "x.tex")
    with pytest.raises(ValueError, match="path"):
        LE.export_latex(tmp_path)


def test_unwritable_folder_fails_before_work_and_names_the_users_path(tmp_path, monkeypatch):
    """A read-only folder (simulated: root ignores permission bits) is reported before the
    claims run, with the user's path and never the hidden temporary file."""
    import errno

    import proofs_check.storage.atomic as atomic
    import proofs_check.claims as claims_pkg

    def no_run():
        raise AssertionError("claims must not run for an unwritable folder")

    def refuse(*a, dir=None, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir) + "/.x.tex.tmp")

    monkeypatch.setattr(claims_pkg, "registry", no_run)
    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    target = tmp_path / "x.tex"
    with pytest.raises(ValueError) as info:
        LE.export_latex(target)
    assert str(info.value) == (f"path: cannot write {str(target)!r}: folder {str(tmp_path)!r} is not "
                               "writable (the system says: Permission denied)")
    assert ".tmp" not in str(info.value)


def test_rename_failure_names_the_users_path(tmp_path, monkeypatch):
    import proofs_check.storage.atomic as atomic

    def fail(src, dst):
        raise OSError(28, "No space left on device", str(src))

    monkeypatch.setattr(atomic.os, "replace", fail)
    target = tmp_path / "doc.tex"
    with pytest.raises(OSError) as info:
        atomic.write_text_atomic(target, "x")
    assert info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_prepare_output_one_rule(tmp_path):
    from proofs_check.storage.atomic import prepare_output
    assert prepare_output(tmp_path / "f.tex") == tmp_path / "f.tex"
    assert not (tmp_path / "f.tex").exists()          # a file target is not created early
    assert prepare_output(tmp_path / "out", kind="dir").is_dir()   # a folder target is
    for bad, kind in ((tmp_path / "no" / "f.tex", "file"), (tmp_path / "no" / "out", "dir")):
        with pytest.raises(ValueError, match="does not exist"):
            prepare_output(bad, kind=kind)
    with pytest.raises(ValueError, match="is a folder"):
        prepare_output(tmp_path, kind="file")
    with pytest.raises(ValueError):
        prepare_output("", kind="file")
