"""Typesetting of the LaTeX export as a paper would have it.

Over the document exported from real ``iclft check`` results: no ``\\mathrm{`` of an English
word, no math mode that opens inside a word, no ``\\_`` in running text, no inline formula
over 300 characters, no display over 12 lines; the document compiles with no overfull box.
The marked-text renderer (:mod:`proofs_check.export.prose`) is checked on its own, including a
plain string (literal text, never mathematics) and a planted bad document (each rule fires).
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import sympy as sp

pytest.importorskip("lark")

from proofs_check.export import latex_content as LC  # noqa: E402
from proofs_check.export import latex_document as LE  # noqa: E402
from proofs_check.export import latex_roundtrip as RT  # noqa: E402
from theory import printing as TP  # noqa: E402
from proofs_check.export.prose import Prose, as_latex, as_markdown, as_text, field_words, tx  # noqa: E402

#: short English words that must never be set upright in math mode
_SHORT_WORDS = {"by", "or", "and", "the", "on", "of", "at", "in", "to", "is", "it", "for", "all", "if", "with",
                "as", "be", "an", "not", "no", "yes", "any", "each", "its", "per"}
#: \mathrm{...} contents that are names, not English words
_NAMES = {"pre", "lim", "auth", "pretrained", "Unif", "SymPy", "NumPy", "MC", "ZS", "FS", "SE", "NaN", "tr",
          "true", "false", "all", "ZSFS", "dc", "sign", "diag"}


def _strip_comments(tex: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*", "", ln) for ln in tex.splitlines())


def _math_spans(body: str):
    """``(start, end, text)`` of every inline ``$...$`` span (``\\$`` is a dollar)."""
    spans, i, start = [], 0, None
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "$":
            if start is None:
                start = i
            else:
                spans.append((start, i + 1, body[start + 1:i]))
                start = None
        i += 1
    return spans


def typesetting_problems(tex: str) -> list[str]:
    """Every violation of the rules above in a LaTeX document (empty when it is clean)."""
    body = _strip_comments(tex)
    body = body[body.index(r"\begin{document}"):]
    probs = []
    for mo in re.finditer(r"\\mathrm\{([A-Za-z]+)\}", body):
        w = mo.group(1)
        if w not in _NAMES and (w.lower() in _SHORT_WORDS or (len(w) >= 4 and w.islower())):
            probs.append(f"\\mathrm of an English word: {body[max(0, mo.start() - 40):mo.end() + 20]!r}")
    spans = _math_spans(body)
    for a, b, text in spans:
        if a > 0 and body[a - 1].isalpha():
            probs.append(f"math opens inside a word: {body[max(0, a - 30):a + 30]!r}")
        if b < len(body) and body[b].isalpha():
            probs.append(f"math closes inside a word: {body[max(0, b - 30):b + 30]!r}")
        if len(text) > 300:
            probs.append(f"inline formula of {len(text)} characters: {text[:80]!r}")
    # running text: outside math, outside \texttt{...}, outside displays
    text = body
    for a, b, _t in reversed(spans):
        text = text[:a] + " " + text[b:]
    text = re.sub(r"\\begin\{(align\*|equation\*)\}.*?\\end\{\1\}", " ", text, flags=re.S)
    text = re.sub(r"\\\[.*?\\\]", " ", text, flags=re.S)
    text = re.sub(r"\\texttt\{(?:[^{}]|\{[^{}]*\})*\}", " ", text)
    for mo in re.finditer(r"\\_", text):
        probs.append(f"\\_ in running text: {text[max(0, mo.start() - 40):mo.end() + 20]!r}")
    for mo in re.finditer(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", body, flags=re.S):
        lines = mo.group(1).count(r"\\") + 1
        if lines > 12:
            probs.append(f"display of {lines} lines: {mo.group(1)[:80]!r}")
    for mo in re.finditer(r"\d[a-z]{2,}", text):  # "6more": a number glued to a word
        if not re.fullmatch(r"\d(st|nd|rd|th|pt|cm|em|ex|mm|in)", mo.group(0)[:3]):
            probs.append(f"number glued to a word: {text[max(0, mo.start() - 20):mo.end() + 20]!r}")
    return probs


# --------------------------------------------------------------------------- the renderer


def test_marked_text_renders_mathematics_and_prose_apart():
    from theory import symbols as S
    p = tx("derived $c* = {}$ (root of $d L_pre / d c$) at {} with $lim_(n->oo) L_n(-theta0)$",
           (S.m + 1) / (S.m + 1 + S.d * (1 + S.sigma2)), 3.3e-16)
    assert isinstance(p, str) and str(p).startswith("derived c* = (m + 1)/(")
    tex = as_latex(p)
    assert tex.startswith("derived $c^\\star = ")
    assert r"$3.3 \times 10^{-16}$" in tex and r"\lim_{n \to \infty} L_{n}(-\theta_0)" in tex
    assert r"L_{\mathrm{pre}}" in tex and "(root of $" in tex
    assert typesetting_problems(r"\begin{document}" + tex + r"\end{document}") == []
    md = as_markdown(p)
    assert "$c^\\star = " in md and "|" not in md
    assert as_text(p + " more") == str(p) + " more" and isinstance(p + " more", Prose)
    assert isinstance("x " + p, Prose) and as_latex("x " + p).startswith("x derived $")


def test_plain_strings_are_literal_text():
    tex = as_latex("plain max_abs_entry of N**2 at 5% & x")
    assert "$" not in tex.replace(r"\$", "")
    assert r"\texttt{max\_abs\_entry}" in tex and r"5\%" in tex and r"\&" in tex


def test_claim_id_in_prose_is_code():
    """A dotted claim id with underscores in running text is set in ``\\texttt``, never ``\\_``."""
    tex = as_latex(tx("claim zs.w_only_stationary (no move) holds only at $u = 0$"))
    assert tex.startswith(r"claim \texttt{zs.w\_only\_stationary} (no move)")
    assert typesetting_problems(r"\begin{document}" + tex + r"\end{document}") == []


def test_template_errors_are_value_errors():
    with pytest.raises(ValueError, match="unbalanced"):
        tx("a $b")
    with pytest.raises(ValueError, match="field"):
        tx("{missing}")
    assert str(tx("price $$5")) == "price $5"


def test_field_names_become_words():
    assert str(field_words("max_abs_entry")) == "largest absolute entry"
    assert as_latex(field_words("L_0_target")) == "$L_{0}$ target"
    assert as_latex(field_words("c_star")) == r"$c^\star$"
    assert "run passed" in str(field_words("planted_run_passed"))


def test_checker_catches_each_planted_problem():
    bad = (r"\begin{document} every $0 (\mathrm{by}$ invariance, x$y$ and a\_b, "
           + "$" + "x+" * 200 + "1$ 6more \\begin{align*}" + r"a \\" * 13 + r"\end{align*}\end{document}")
    probs = "\n".join(typesetting_problems(bad))
    for what in ("English word", "inside a word", r"\_ in running", "inline formula", "lines", "glued"):
        assert what in probs, what


# --------------------------------------------------------------------------- the document


@pytest.fixture(scope="module")
def real_document():
    from proofs_check.claims import registry, run_claim
    return LE.render_document([run_claim(c) for c in registry()])


def test_exported_claims_are_typeset(real_document):
    assert typesetting_problems(real_document) == []


def _gcd_of_display(expr):
    num, den = sp.fraction(expr)
    return sp.gcd(sp.expand(num), sp.expand(den))


def test_nabla_L_pre_has_no_common_factor():
    """The displayed ``\\nabla L_pre`` coefficients, read back from the printed LaTeX (SymPy's
    parser keeps the printed numerator and denominator apart), share no polynomial factor
    between numerator and denominator: their gcd is a constant.  Every other gradient
    display is checked on its printed SymPy form."""
    pre = [ex for ex in LC.exported_expressions() if ex.key.startswith("grad.pretrain.")]
    assert len(pre) >= 4
    for ex in pre:
        parsed = RT.parse_exported(ex.parse_latex)
        assert parsed is not None, ex.key
        g = _gcd_of_display(parsed)
        assert not g.free_symbols, (ex.key, g)
    for ex in LC.exported_expressions():
        if ex.key.startswith("grad."):
            shown = TP.tidy(ex.expr)
            parts = sp.Mul.make_args(shown)
            pre_factor = sp.Mul(*[f for f in parts if not isinstance(f, sp.Add)])
            body = sp.Mul(*[f for f in parts if isinstance(f, sp.Add)])
            assert not _gcd_of_display(sp.together(pre_factor * body)).free_symbols, ex.key
    # the check can fail: an uncancelled (d+2) is seen
    from theory.symbols import a, d, m
    assert _gcd_of_display((2 * (d + 2) * a + (d + 2) * m) / (d * (d + 2))) == d + 2


def test_real_document_compiles_without_overfull_boxes(real_document, tmp_path):
    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.skip("pdflatex not installed (CI installs texlive-latex-base)")
    (tmp_path / "doc.tex").write_text(real_document, encoding="utf-8")
    proc = subprocess.run([exe, "-halt-on-error", "-interaction=nonstopmode", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*\n.*", log)[:5]
