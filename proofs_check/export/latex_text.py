r"""LaTeX text mode from plain strings: numbers, escaped text, formulas in the plain spelling.

:func:`escape_text` escapes the specials and maps known Unicode symbols to mathematics;
:func:`plain_latex` sets a word that looks like code in ``\texttt``; :func:`formula_tex`
converts a formula in the plain (SymPy ``sstr``) spelling token by token; :func:`num_tex`
prints a number as ``3.33067 \times 10^{-16}``; :func:`safe_math` decides whether a claim's own
LaTeX statement may be typeset as it is.  Used by the marked text of
:mod:`proofs_check.export.prose` and by the document of :mod:`proofs_check.export.latex_document`.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import math
import re

__all__ = ["num_text", "num_tex", "UNICODE_MATH", "escape_text", "plain_latex", "formula_tex", "safe_math"]

# --------------------------------------------------------------------------- numbers


def num_text(x) -> str:
    """Plain text of a number: ints whole, floats to 6 significant digits (``.6g``)."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.6g}"


def num_tex(x, spec: str = "") -> str:
    r"""LaTeX math of a number (no ``$``): ``3.33067 \times 10^{-16}``, ``0.1``, ``\infty``."""
    if isinstance(x, bool):
        return r"\mathrm{" + str(x).lower() + "}"
    if isinstance(x, int) and not spec:
        return str(x)
    x = float(x)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    s = format(x, spec) if spec else f"{x:.6g}"
    mo = re.fullmatch(r"(-?[\d.]+)e([+-])0*(\d+)", s)
    if mo:
        mant, sign, ex = mo.groups()
        exp = ("-" if sign == "-" else "") + ex
        return (f"10^{{{exp}}}" if mant in ("1", "1.0") else
                f"-10^{{{exp}}}" if mant in ("-1", "-1.0") else rf"{mant} \times 10^{{{exp}}}")
    return s


# --------------------------------------------------------------------------- text escaping

UNICODE_MATH = {
    "θ": r"\theta", "σ": r"\sigma", "λ": r"\lambda", "α": r"\alpha", "β": r"\beta",
    "κ": r"\kappa", "ρ": r"\rho", "ε": r"\varepsilon", "η": r"\eta", "μ": r"\mu",
    "Σ": r"\Sigma", "Δ": r"\Delta", "∇": r"\nabla", "⊥": r"\perp", "≥": r"\geq",
    "≤": r"\leq", "≠": r"\neq", "≈": r"\approx", "→": r"\to", "⇒": r"\Rightarrow",
    "⇔": r"\Leftrightarrow", "∞": r"\infty", "·": r"\cdot", "×": r"\times", "−": "-",
    "±": r"\pm", "√": r"\surd", "∈": r"\in", "‖": r"\|", "∀": r"\forall",
    "⁰": "^0", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "ᵀ": r"^\top", "⊤": r"\top",
    "₀": "_0", "₁": "_1", "₂": "_2", "∂": r"\partial", "∑": r"\sum", "⟨": r"\langle",
    "⟩": r"\rangle",
}
_UNICODE_TEXT = {"—": "---", "–": "--", "‘": "`", "’": "'", "“": "``", "”": "''",
                 "…": r"\ldots{}", "\u00a0": "~"}
_TEXT_ESCAPE = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}",
                "<": r"\ensuremath{<}", ">": r"\ensuremath{>}", "|": r"\ensuremath{|}"}
_BREAK_AFTER = frozenset("*/=,;(")


def escape_text(s, breakable: bool = True) -> str:
    """Plain text -> LaTeX text mode: the specials ``\\ { } $ & # % _ ^ ~ < > |`` are
    escaped, known Unicode symbols become math, other non-ASCII becomes ``[U+XXXX]``.
    With ``breakable``, a line may break after ``* / = , ; (`` (long formulas in text)."""
    out = []
    for ch in str(s):
        if breakable and ch in _BREAK_AFTER:
            out.append(ch + r"\allowbreak{}")
        elif ch in _TEXT_ESCAPE:
            out.append(_TEXT_ESCAPE[ch])
        elif ch in UNICODE_MATH:
            out.append("$" + UNICODE_MATH[ch] + "$")
        elif ch in _UNICODE_TEXT:
            out.append(_UNICODE_TEXT[ch])
        elif ch == "\n" or ord(ch) < 32:
            out.append(" ")
        elif ord(ch) > 126:
            out.append(f"[U+{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


_CODE_WORD = re.compile(r"(?:[A-Za-z0-9]+\.)*[A-Za-z0-9]*[_*][A-Za-z0-9_*.()\[\],'|=+-]*")


def plain_latex(s: str) -> str:
    """A plain (unmarked) string as LaTeX text: words escaped; a word that looks like code
    (an underscore or ``*`` in it, e.g. ``max_abs`` or a claim id ``zs.w_only_stationary``) in
    ``\\texttt`` with break points."""
    out = []
    for word in re.split(r"(\s+)", str(s)):
        if not word or word.isspace():
            out.append(" " if word else "")
            continue
        core = word.rstrip(",;:.")
        trail = word[len(core):]
        if core and ("_" in core or "**" in core) and _CODE_WORD.fullmatch(core):
            out.append(r"\texttt{" + escape_text(core, breakable=True) + "}" + escape_text(trail, False))
        else:
            out.append(escape_text(word, breakable=False))
    return "".join(out)


# --------------------------------------------------------------------------- formulas

#: plain-text names (SymPy's ``sstr`` spelling) -> LaTeX
_TEXT_NAMES = {
    "sigma2": r"\sigma^2", "sigma": r"\sigma", "lam": r"\lambda", "lambda": r"\lambda",
    "alpha": r"\alpha", "beta": r"\beta", "kappa": r"\kappa", "rho": r"\rho", "eta": r"\eta",
    "theta0": r"\theta_0", "theta_0": r"\theta_0", "theta_perp": r"\theta_\perp", "theta": r"\theta",
    "yhat": r"\hat y", "times": r"\times", "oo": r"\infty", "inf": r"\infty", "pi": r"\pi", "Pi": r"\Pi", "grad": r"\nabla", "nabla": r"\nabla",
    "ZS": r"\mathrm{ZS}", "FS": r"\mathrm{FS}", "SE": r"\mathrm{SE}", "Unif": r"\mathrm{Unif}",
    "and": r"\ \text{and}\ ", "or": r"\ \text{or}\ ", "for": r"\ \text{for}\ ", "if": r"\ \text{if}\ ",
}
_SUBSCRIPTS = {"perp": r"\perp", "p": r"\perp", "00": "0", "pre": r"\mathrm{pre}", "auth": r"\mathrm{auth}",
               "star": r"\star", "inf": r"\infty", "oo": r"\infty", "min": r"\min", "max": r"\max"}
_FUNCS = {"sqrt": r"\sqrt", "exp": r"\exp", "log": r"\log", "max": r"\max", "min": r"\min", "lim": r"\lim",
          "sup": r"\sup", "inf": r"\inf", "det": r"\det", "tr": r"\operatorname{tr}", "E": r"\mathbb{E}",
          "diag": r"\operatorname{diag}", "sign": r"\operatorname{sign}"}
_TOKEN = re.compile(r"(?P<ph>\ue000\d+\ue001)|(?P<exp>\d+(?:\.\d+)?e[+-]?\d+)|(?P<num>\d+(?:\.\d+)?)|(?P<pow>\*\*)"
                    r"|(?P<op>->|<=|>=|!=|\.\.\.)|(?P<id>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*)"
                    r"(?P<star>\*(?![\w(*\ue000]))?|(?P<ch>.)", re.S)
_OPS = {"->": r"\to", "<=": r"\le", ">=": r"\ge", "!=": r"\ne", "...": r"\dots"}


def _ident_tex(w: str) -> str:
    if w in _TEXT_NAMES:
        return _TEXT_NAMES[w]
    if w in _FUNCS:
        return _FUNCS[w]
    if "_" in w:
        base, sub = w.split("_", 1)
        if "_" in sub:
            sub = sub.replace("_", ",")
        sub_tex = _SUBSCRIPTS.get(sub)
        if sub_tex is None:
            sub_tex = sub if (len(sub) <= 2 or sub.isdigit()) else r"\mathrm{" + sub + "}"
        head = _TEXT_NAMES.get(base, _FUNCS.get(base, base if len(base) == 1 else r"\mathrm{" + base + "}"))
        if sub == "star":
            return head + r"^\star"
        return head + "_{" + sub_tex + "}"
    if len(w) == 1:
        return w
    mo = re.fullmatch(r"([A-Za-z])(\d+)", w)
    if mo:
        return f"{mo.group(1)}_{{{mo.group(2)}}}"
    return rf"\mathrm{{{w}}}"


def formula_tex(src: str, values: tuple[str, ...] = ()) -> str:
    r"""LaTeX math (no ``$``) of a formula in the plain spelling: ``N**2*d`` -> ``N^{2}\,d``,
    ``sigma2`` -> ``\sigma^2``, ``n->oo`` -> ``n \to \infty``, ``c*`` -> ``c^\star``,
    ``L_pre`` -> ``L_{\mathrm{pre}}``, ``1e-06`` -> ``10^{-6}``, ``sqrt(x)`` -> ``\sqrt{x}``,
    ``|x|`` -> ``\vert x\vert``.  ``values[i]`` is the LaTeX of the placeholder ``\ue000i\ue001``."""
    toks = [(mo.lastgroup if mo.lastgroup != "star" else "id", mo) for mo in _TOKEN.finditer(src)]
    out: list[str] = []
    i = 0

    def atom(j):
        kind, mo = toks[j]
        if kind == "ch" and mo.group(0) == "(":
            depth, k = 0, j
            while k < len(toks):
                ch = toks[k][1].group(0)
                depth += (ch == "(") - (ch == ")")
                if depth == 0:
                    break
                k += 1
            inner = "".join(t[1].group(0) for t in toks[j + 1:k])
            return formula_tex(inner, values), k + 1
        return one(j), j + 1

    def one(j):
        kind, mo = toks[j]
        text = mo.group(0)
        if kind == "ph":
            return "{" + values[int(text[1:-1])] + "}"
        if kind == "exp":
            return num_tex(float(text))
        if kind == "num":
            return text
        if kind == "op":
            return f" {_OPS[text]} "
        if kind == "id":
            base = _ident_tex(mo.group("id"))
            return base + (r"^\star" if mo.group("star") else "")
        if text == "*":
            return r"\,"
        if text == "|":
            return r"\vert "
        if text == ",":
            return r",\ "
        if text in "{}":
            return "\\" + text
        if text in "#%&$~\\":
            return "\\" + text if text in "#%&$" else ""
        return text

    while i < len(toks):
        kind, mo = toks[i]
        if kind == "ch" and mo.group(0) == "^" and i + 1 < len(toks) and toks[i + 1][1].group(0) == "T":
            out.append(r"^\top")  # transpose: e_y^T
            i += 2
            continue
        if (kind == "pow" or (kind == "ch" and mo.group(0) == "^")) and i + 1 < len(toks):
            ex, i = atom(i + 1)
            if out and "^" in out[-1]:  # sigma2**2: no double superscript
                out[-1] = "{" + out[-1] + "}"
            out.append("^{" + ex + "}")
            continue
        if kind == "id" and mo.group("id") in ("sqrt",) and i + 1 < len(toks) and toks[i + 1][1].group(0) == "(":
            inner, i = atom(i + 1)
            out.append(r"\sqrt{" + inner + "}")
            continue
        if kind == "ch" and mo.group(0) == "_" and i + 1 < len(toks):  # lim_(n->oo), max_(x)
            sub, i = atom(i + 1)
            out.append("_{" + sub + "}")
            continue
        out.append(one(i))
        i += 1
    return "".join(out)


def safe_math(s: str) -> str | None:
    """A claim's own LaTeX statement, if it is safe to typeset (balanced braces, no
    environment or dangerous commands); Unicode symbols mapped to math commands."""
    if not s:
        return None
    if re.search(r"\\(begin|end|input|include|write|def|newcommand|renewcommand|let|"
                 r"catcode|immediate|openout|usepackage|documentclass|\[|\])\b", s):
        return None
    if "$" in s or "\n\n" in s or "%" in s:
        return None
    depth = 0
    for ch in s:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return None
    if depth != 0:
        return None
    out = []
    for ch in s:
        if ch in UNICODE_MATH:
            out.append(" " + UNICODE_MATH[ch] + " ")
        elif ord(ch) > 126:
            return None
        else:
            out.append(ch)
    return "".join(out)
