r"""Text with its mathematics marked explicitly, rendered as plain text, Markdown or LaTeX.

Evidence, regions and statements of the claims are written with :func:`tx`, a small markup:
literal text, with formulas between ``$...$`` written in the plain (SymPy ``sstr``)
spelling, and ``{}`` / ``{name}`` fields for values (SymPy expressions, numbers, strings)::

    tx("derived $c* = {}$ (root of $dL_pre/dc$)", cstar)
    tx("largest deviation {:.2e} over {} configurations", err, len(grid))

Nothing guesses what is mathematics: text outside ``$`` is prose (escaped in LaTeX),
text inside is a formula (converted token by token by
:func:`proofs_check.export.latex_text.formula_tex`), a SymPy field is
printed by :func:`theory.printing.tex` (LaTeX) or ``sstr`` (text), and a number is printed
``3.33067e-16`` in text and ``$3.33067 \times 10^{-16}$`` in LaTeX.  ``$$`` is a literal
dollar; ``{{``/``}}`` literal braces.

The result, a :class:`Prose`, *is* a ``str`` (its plain-text rendering), so code that
compares or searches descriptions keeps working and the JSON holds the text; the renderers
:func:`as_text`, :func:`as_markdown` and :func:`as_latex` take a :class:`Prose` or any plain
string (plain strings are literal text: escaped in LaTeX, never typeset as mathematics; a
word that looks like code, e.g. ``max_abs``, is set in ``\texttt``).

:func:`field_words` turns a details key (``max_abs_entry``, ``L_0_target``) into words and
formulas; :func:`details_prose` renders a details dict (long lists summarised: the full data
stays in the JSON).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

from proofs_check.export.latex_text import escape_text, formula_tex, num_tex, num_text, plain_latex

__all__ = ["Prose", "tx", "as_text", "as_markdown", "as_latex", "field_words", "details_prose", "MAX_INLINE"]

#: longest inline formula (LaTeX characters) before a value is summarised instead
MAX_INLINE = 300

# --------------------------------------------------------------------------- numbers


def _is_number(v) -> bool:
    import numpy as np  # deferred: NumPy is not loaded for the CLI's start-up (prose is)
    if isinstance(v, np.generic) and not isinstance(v, np.bool_):
        return True
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------- prose


@dataclass(frozen=True)
class _Value:
    value: object
    spec: str = ""

    def text(self) -> str:
        v = self.value
        if isinstance(v, Prose):
            return as_text(v)
        if _is_number(v):
            return format(v, self.spec) if self.spec else num_text(v)
        if _is_sympy(v):
            import sympy as sp  # deferred: SymPy only when a value is symbolic (then it is loaded)
            return sp.sstr(v)
        return format(v, self.spec) if self.spec else str(v)

    def tex(self) -> str:
        """LaTeX math (no ``$``)."""
        v = self.value
        if _is_number(v):
            return num_tex(v, self.spec)
        if _is_sympy(v):
            from theory.printing import tex  # deferred: SymPy and theory only when a value is symbolic
            return tex(v)
        return r"\text{" + escape_text(self.text(), breakable=False) + "}"


def _is_sympy(v) -> bool:
    mod = type(v).__module__ or ""
    return mod.startswith("sympy")


class Prose(str):
    """A string with its mathematics marked: its ``str`` value is the plain text; ``parts``
    is a tuple of ``("text", str)``, ``("value", _Value)`` and ``("math", (src, values))``
    items.  Concatenation with ``+`` keeps the marks."""

    parts: tuple

    def __new__(cls, parts):
        parts = tuple(parts)
        obj = super().__new__(cls, "".join(_part_text(p) for p in parts))
        obj.parts = parts
        return obj

    def __add__(self, other):
        if isinstance(other, str):
            return Prose(self.parts + _parts_of(other))
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, str):
            return Prose(_parts_of(other) + self.parts)
        return NotImplemented

    def __reduce__(self):
        return (Prose, (self.parts,))

    def latex(self) -> str:
        return as_latex(self)

    def markdown(self) -> str:
        return as_markdown(self)


def _parts_of(s) -> tuple:
    return s.parts if isinstance(s, Prose) else (("text", str(s)),)


def _math_src(item) -> str:
    src, values = item
    return re.sub("\ue000(\\d+)\ue001", lambda mo: values[int(mo.group(1))].text(), src)


def _part_text(p) -> str:
    kind, item = p
    if kind == "text":
        return item
    if kind == "value":
        return item.text()
    return _math_src(item)


def _part_math_tex(p) -> tuple[str, bool]:
    """LaTeX of a formula part and whether a value was too long to print inline (it is then
    written ``\\dots``: a formula longer than :data:`MAX_INLINE` is never set in a line)."""
    src, values = p[1]
    texs = [v.tex() for v in values]
    short = tuple(t if len(t) <= MAX_INLINE // 2 else r"\dots" for t in texs)
    return formula_tex(src, short), short != tuple(texs)


_LONG_NOTE = " (written out in the JSON)"


def tx(template: str, *args, **kwargs) -> Prose:
    """Marked text: literal text, ``$formula$`` in the plain spelling, ``{}``/``{name}``
    fields (with an optional format spec, ``{:.2e}``) filled from ``args``/``kwargs``.

    Raises:
        ValueError: an unbalanced ``$`` or an unknown field.
    """
    segs = template.replace("$$", "\ue002").split("$")
    if len(segs) % 2 == 0:
        raise ValueError(f"template: unbalanced $ in {template!r}")
    auto = iter(range(len(args)))
    parts: list = []

    def field(name, spec):
        if name == "":
            try:
                name = str(next(auto))
            except StopIteration:
                raise ValueError(f"template: more fields than values in {template!r}") from None
        val = args[int(name)] if name.isdigit() else kwargs.get(name, _MISSING)
        if val is _MISSING:
            raise ValueError(f"template: no value for field {{{name}}} in {template!r}")
        return _Value(val, spec or "")

    for k, seg in enumerate(segs):
        seg = seg.replace("\ue002", "$")
        pieces = list(string.Formatter().parse(seg))
        if k % 2 == 0:
            for lit, name, spec, _conv in pieces:
                if lit:
                    parts.append(("text", lit))
                if name is not None:
                    v = field(name, spec)
                    if isinstance(v.value, Prose) and not spec:
                        parts.extend(v.value.parts)  # marked text keeps its marks
                    else:
                        # a float or SymPy value is mathematics; a count (int) in prose is a word
                        numeric = _is_number(v.value) and not isinstance(v.value, int)
                        parts.append(("value", v) if numeric or _is_sympy(v.value) else ("text", v.text()))
        else:
            src, values = [], []
            for lit, name, spec, _conv in pieces:
                src.append(lit)
                if name is not None:
                    src.append(f"\ue000{len(values)}\ue001")
                    values.append(field(name, spec))
            parts.append(("math", ("".join(src), tuple(values))))
    return Prose(parts)


_MISSING = object()


# --------------------------------------------------------------------------- renderers


def as_text(s) -> str:
    """The plain text of a :class:`Prose` or string."""
    return str.__str__(s) if isinstance(s, Prose) else str(s)


def _inline(tex: str) -> str:
    return "$" + tex.strip() + "$"


def _render(s: Prose, text, math) -> str:
    """One walk over the parts: ``text(str)`` for prose, ``math(tex)`` for a formula or a
    value (each in its own inline formula); a cut formula is followed by the long-value note."""
    out = []
    for p in s.parts:
        kind, item = p
        if kind == "text":
            out.append(text(item))
            continue
        tex, cut = (item.tex(), False) if kind == "value" else _part_math_tex(p)
        out.append(math(tex) + (text(_LONG_NOTE) if cut else ""))
    return "".join(out)


def as_latex(s) -> str:
    """LaTeX text mode: prose escaped, each formula and number in its own ``$...$``."""
    if not isinstance(s, Prose):
        return plain_latex(str(s))
    return _render(s, plain_latex, _inline)


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|$])", r"\\\1", text)


def as_markdown(s) -> str:
    """Markdown: prose escaped, formulas and numbers as ``$...$`` inline mathematics (no
    ``|`` inside, so the result is safe in a table cell)."""
    if not isinstance(s, Prose):
        return _md_escape(str(s))
    return _render(s, _md_escape, lambda tex: _inline(tex).replace("|", r"\vert "))


# --------------------------------------------------------------------------- details

#: words of details keys (whole keys); other keys are split at ``_`` by :func:`field_words`
_KEY_WORDS = {
    "max": "largest", "min": "smallest", "abs": "absolute", "rel": "relative", "diff": "difference",
    "mc": "Monte Carlo", "sgd": "SGD", "se": "standard errors", "stderr": "standard error",
    "default": "at the default configuration", "zs": "ZS", "zsfs": "ZS+FS", "numpy": "NumPy",
    "vs": "vs", "le": "at most", "t5": "at $t = 5$", "lr": "learning rate", "grad": "gradient",
    "configs": "configurations",
}


#: details keys that are not ``word_word`` names, as marked text
_FIELD_NAMES = {
    "max_|ZS-sigma2|": "largest $|ZS - sigma2|$",
    "default_c*b": "$c b$ at the default configuration",
    "perp_limit_at_t=1000": "limit on $theta_perp$ at $t = 1000$",
    "max|alpha|,|beta| (t)": "largest of $|alpha|$, $|beta|$ along the flow",
    "V[y,x] coefficient": "coefficient of $V$ at $(y, x)$",
    "grad_norm(t)": "gradient norm along the flow",
    "h(t)": "$h$ along the flow",
    "a(t=10,100,1000)": "$a$ at $t = 10, 100, 1000$",
    "q*a": "$q a$",
    "sgd_aq": "SGD $a q$",
    "0": "coefficient $0$",
    "target_N": "target error at $n = N$",
    "target_N_v_only": "target error at $n = N$, $V$ only",
    "target_N_zs_v": "target error at $n = N$, ZS-$V$",
    "target_N_zsfs_v": "target error at $n = N$, ZS+FS-$V$",
    "negated_4000_zs_v": "$L_4000(-theta0)$, ZS-$V$",
    "negated_4000_zsfs_v": "$L_4000(-theta0)$, ZS+FS-$V$",
    "perp_limit": "limit on $theta_perp$",
    "pretrained_perp_limit": "pretrained limit on $theta_perp$",
}
_METHOD_SUFFIX = {"v": "V", "w": "W", "k": "K", "q": "Q", "all": "all", "kq": "KQ"}


def field_words(key) -> Prose:
    """A details key as words and formulas: ``max_abs_entry`` -> "largest absolute entry",
    ``L_0_target`` -> "$L_0$ target", ``c_star`` -> "$c^\\star$", ``sigma2`` -> "$\\sigma^2$",
    ``L_4000(negated)`` -> "$L_{4000}$ (negated)"."""
    key = str(key)
    if key in _FIELD_NAMES:
        return tx(_FIELD_NAMES[key])
    if re.fullmatch(r"[A-Za-z](_\d+)?|sigma2|lam|alpha|beta|kappa|rho|theta0|theta_perp|tt|yt|ty|yy|perp", key):
        if key in ("tt", "yt", "ty", "yy", "perp"):
            return Prose([("text", "coefficient "), ("math", ("Pi" if key == "perp" else key, ()))])
        return tx("$" + key + "$")
    mo = re.fullmatch(r"([A-Za-z])_(\d+)\((\w+)\)", key)
    if mo:
        arg = mo.group(3)
        return tx(f"$L_{mo.group(2)}({arg})$") if arg.startswith("theta") else \
            tx(f"${mo.group(1)}_{mo.group(2)}$ ({arg})")
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        return Prose([("text", key)])
    toks = key.split("_")
    out: list = []
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if re.fullmatch(r"[A-Za-z]", t) and nxt is not None and re.fullmatch(r"\d+|pre|perp|N|n|auth", nxt):
            out.append(tx(f"${t}_{nxt}$"))
            i += 2
            continue
        if t in ("zs", "zsfs") and nxt in _METHOD_SUFFIX:
            out.append(Prose([("text", ("ZS" if t == "zs" else "ZS+FS") + "-" + _METHOD_SUFFIX[nxt])]))
            i += 2
            continue
        if re.fullmatch(r"[A-Za-z]", t) or t in ("sigma2", "alpha", "beta", "lam", "kappa", "rho", "theta0"):
            star = nxt == "star"
            out.append(tx(f"${t}{'*' if star else ''}$"))
            i += 2 if star else 1
            continue
        word = "default" if t == "default" and i < len(toks) - 1 else _KEY_WORDS.get(t, t)
        out.append(tx(word) if "$" in word else Prose([("text", word)]))
        i += 1
    res = Prose(())
    for j, p in enumerate(out):
        res = res + (" " if j else "") + p
    return res


def _short_value(v, depth: int = 0):
    """A value as Prose (numbers marked), summarised when long."""
    import numpy as np  # deferred: NumPy is not loaded for the CLI's start-up (prose is)
    if isinstance(v, np.ndarray):
        v = v.tolist()
    elif isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or v is None:
        return Prose([("text", {True: "yes", False: "no", None: "none"}[v])])
    if _is_number(v):
        return tx("{}", v)
    if isinstance(v, dict):
        items = list(v.items())
        if len(items) > 6 or depth > 0:
            return tx("{} entries (in the JSON)", len(items))
        res = Prose([("text", "(")])
        for j, (k, x) in enumerate(items):
            res = res + ("; " if j else "") + field_words(k) + ": " + _short_value(x, depth + 1)
        return res + ")"
    if isinstance(v, (list, tuple)):
        v = list(v)
        nums = [x for x in v if _is_number(x)]
        if len(v) > 6 or depth > 0 or len(nums) != len(v):
            if v and len(nums) == len(v):
                return tx("{} values in [{}, {}]", len(v), min(nums), max(nums))
            return tx("{} items (in the JSON)", len(v))
        res = Prose([("text", "(")])
        for j, x in enumerate(v):
            res = res + (", " if j else "") + tx("{}", x)
        return res + ")"
    if _is_sympy(v):
        return tx("${}$", v)
    s = str(v)
    if len(s) > 80:
        return tx("{} characters (in the JSON)", len(s))
    return Prose([("text", s)])


def details_prose(details: dict) -> Prose:
    """``key value; key value`` with the keys in words (:func:`field_words`) and the values
    marked; long lists, dicts and strings are summarised (the full data is in the JSON)."""
    res = Prose(())
    for j, (k, v) in enumerate(details.items()):
        res = res + ("; " if j else "") + field_words(k) + ": " + _short_value(v)
    return res
