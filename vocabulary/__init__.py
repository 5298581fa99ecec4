"""The shared vocabulary of iclft: plain data, no formulas.

Every layer names the same things: objectives, tasks, parametrisations, fine-tuning
methods, and the coordinates of the reduced (invariant) manifold.  They are defined here,
in one place.  ``theory`` (SymPy) and ``numerics`` (NumPy) both import this module and each
*computes* from these descriptions with its own formulas; neither imports the other.
This module imports nothing from the project.  The conventions (tokens, normalisation,
the merged and separate forms, the reduced coordinates) are stated in ``docs/theory.md``.

Objectives
    An objective is a weighted sum of loss terms.  A term is ``weight * L_shots(task)``,
    where ``shots`` is an integer or the name of a configuration parameter (``"N"`` the
    fine-tuning shots, ``"m"`` the pretraining shots) and ``weight`` is a number or the
    name ``"lam"``.  ``ZS``, ``FS``, ``ZS + lam FS`` and the sphere pretraining loss are
    instances; :func:`objective_terms` resolves names to numbers.
    Each fine-tuning objective with ``methods`` set makes the methods ``NAME-all``,
    ``NAME-v``, ``NAME-w``, ``NAME-k``, ``NAME-q`` (:data:`METHODS`); an entry may declare
    how they are drawn (``line``, ``filled``) and the SGD runs of the figures (``sgd``),
    and defaults apply where it does not.

Tasks
    ``theta = kappa theta0 + rho theta_perp`` with ``theta0``, ``theta_perp`` orthonormal,
    or ``sphere``: the average over ``theta ~ Uniform(S^{d-1})``.

Parametrisations
    A form (``merged``: ``V, W``; ``separate``: ``V, K, Q`` with ``W = K^T Q``) and a set of
    trained matrices, named by a subset key (``all``, ``v``, ``w``, ``kq``, ``k``, ``q``).

Reduced coordinates
    The invariant algebra is spanned by six Frobenius-orthogonal matrices named in
    :data:`BASIS` (``t = (0, theta0, 0)``, ``Pi`` the x-block ``I - theta0 theta0^T``).
    The merged coordinates ``a b q alpha beta h`` are coefficients on these matrices
    (:data:`MERGED_COORDS`); the separate coordinates are ``a, b`` and ``K_<basis>``,
    ``Q_<basis>`` for every basis name.  One naming scheme serves the CLI, the JSON, the
    LaTeX and the documentation.

>>> [str(t) for t in OBJECTIVES["zsfs"].terms]
['1 * L_0(target)', 'lam * L_N(target)']
>>> objective_terms("zsfs", N=20, lam=0.5)
((0, 'target', 1.0), (20, 'target', 0.5))
>>> trained_matrices("separate", "kq")
('K', 'Q')
>>> METHODS["zs-w"].train_for("separate")
'kq'
"""
from __future__ import annotations

from dataclasses import dataclass

from vocabulary.configs import DEFAULT_CONFIG, DEFAULTS, EDGES, FLOW_GRID, GRID, Config

__all__ = [
    "Term", "Objective", "OBJECTIVES", "FINETUNE_OBJECTIVES", "objective_terms",
    "Task", "TASKS", "EVALUATION_TASKS",
    "FORMS", "MATRICES", "TRAIN", "trained_matrices",
    "Method", "METHODS", "METHOD_TRAINS", "DEFAULT_SGD", "methods_for", "EXPERIMENT_METHODS",
    "Basis", "BASIS", "BASIS_NAMES", "Coordinate", "MERGED_COORDS", "SEPARATE_COORDS",
    "coordinate_names", "DEFAULTS", "Config", "DEFAULT_CONFIG", "GRID", "EDGES", "FLOW_GRID", "Convention", "CONVENTIONS", "DEFAULT_CONVENTION",
    "convention_named",
]


# --------------------------------------------------------------------------- objectives
@dataclass(frozen=True)
class Term:
    """One loss term ``weight * L_shots(task)``.

    Args:
        shots: an int ``>= 0``, or ``"N"`` (fine-tuning shots) or ``"m"`` (pretraining shots).
        task: a key of :data:`TASKS`.
        weight: a number, or ``"lam"`` (the fine-tuning weight).
    """

    shots: int | str
    task: str
    weight: float | str = 1

    def __str__(self) -> str:
        return f"{self.weight} * L_{self.shots}({self.task})"


@dataclass(frozen=True)
class Objective:
    """A named objective: a weighted list of loss terms, with its display names.

    The fields after ``description`` have defaults, so a new objective needs only the first
    six.  Every table that lists objectives or methods (the CLI choices, the methods, the
    figure styles, the SGD runs of the figures) is built from these entries.
    """

    name: str
    terms: tuple[Term, ...]
    text: str      #: plain-text formula, e.g. ``ZS + lam FS``
    tex: str       #: LaTeX, e.g. ``\\mathrm{ZS} + \\lambda\\,\\mathrm{FS}``
    label: str     #: short label for legends and tables
    description: str
    #: whether fine-tuning with it makes methods ``NAME-all``, ``NAME-v``, ... (:data:`METHODS`)
    methods: bool = True
    #: matplotlib line style of its methods' curves; ``None``: the figure style gives each
    #: objective that declares none its own dash-dot pattern
    line: str | tuple | None = None
    #: whether its methods' markers are filled (else open)
    filled: bool = False
    #: ``(trains, learning rate, steps)`` of the SGD runs behind the figures' markers at
    #: ``d = 5``; a method not listed runs with :data:`DEFAULT_SGD`
    sgd: tuple[tuple[str, float, int], ...] = ()


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("pretrain", (Term("m", "sphere"),), "L_pre", r"L_{\mathrm{pre}}", "pretraining",
              "pretraining loss: the m-shot error averaged over theta ~ Uniform(S^{d-1})", methods=False),
    Objective("zs", (Term(0, "target"),), "ZS", r"\mathrm{ZS}", "ZS",
              "zero-shot error on the target task: L_0(theta0)",
              line="-", filled=True, sgd=(("all", 0.02, 4000), ("V", 0.01, 3000), ("W", 0.01, 1000))),
    Objective("fs", (Term("N", "target"),), "FS", r"\mathrm{FS}", "FS",
              "few-shot error on the target task: L_N(theta0)", methods=False),
    # ZS+FS-W has a flat direction (alpha -> 0 while h grows; the exact flow needs t ~ 4e3),
    # hence the large rate of its SGD run
    Objective("zsfs", (Term(0, "target"), Term("N", "target", "lam")), "ZS + lam FS",
              r"\mathrm{ZS} + \lambda\,\mathrm{FS}", "ZS+FS",
              "zero-shot plus lam times few-shot error on the target task: L_0(theta0) + lam L_N(theta0)",
              line=(0, (4, 2)), sgd=(("all", 0.02, 6000), ("V", 0.01, 3000), ("W", 0.2, 6000))),
)}

#: the objectives a fine-tuning flow may use (``pretrain`` defines the starting point)
FINETUNE_OBJECTIVES = tuple(k for k in OBJECTIVES if k != "pretrain")


def objective_terms(name: str, *, N: int | None = None, m: int | None = None,
                    lam: float | None = None) -> tuple[tuple[int, str, float], ...]:
    """The terms of objective ``name`` with names resolved: ``((shots, task, weight), ...)``.

    Args:
        name: a key of :data:`OBJECTIVES`.
        N, m, lam: values for the names a term uses; a name that is used must be given.

    Returns:
        A tuple of ``(shots: int, task: str, weight: float)``.

    Raises:
        ValueError: unknown ``name``, or a needed value is missing.
    """
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {name!r}")
    values = {"N": N, "m": m, "lam": lam}
    out = []
    for t in OBJECTIVES[name].terms:
        resolved = []
        for field, x in (("shots", t.shots), ("weight", t.weight)):
            if isinstance(x, str):
                if values.get(x) is None:
                    raise ValueError(f"{x} must be given for objective {name!r} ({field} of a term)")
                x = values[x]
            resolved.append(x)
        out.append((int(resolved[0]), t.task, float(resolved[1])))
    return tuple(out)


# --------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """An evaluation task ``kappa theta0 + rho theta_perp`` (``kappa = rho = None``: the
    sphere average)."""

    name: str
    kappa: int | None
    rho: int | None
    text: str
    tex: str
    label: str


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("target", 1, 0, "theta0", r"\theta_0", r"target task $\theta_0$"),
    Task("negated", -1, 0, "-theta0", r"-\theta_0", r"negated task $-\theta_0$"),
    Task("orthogonal", 0, 1, "theta_perp", r"\theta_\perp", r"orthogonal task $\theta_\perp$"),
    Task("sphere", None, None, "theta ~ U(S^{d-1})", r"\theta \sim \mathcal{U}(S^{d-1})",
         r"unseen tasks $\theta \sim \mathcal{U}(S^{d-1})$"),
)}
EVALUATION_TASKS = tuple(TASKS)


# --------------------------------------------------------------------------- parametrisations
FORMS = ("merged", "separate")
#: the matrices of each form (``W = K^T Q`` in the separate form)
MATRICES = {"merged": ("V", "W"), "separate": ("V", "K", "Q")}
#: subset key -> trained matrices, per form
TRAIN = {
    "merged": {"all": ("V", "W"), "v": ("V",), "w": ("W",)},
    "separate": {"all": ("V", "K", "Q"), "v": ("V",), "kq": ("K", "Q"), "k": ("K",), "q": ("Q",)},
}


def trained_matrices(form: str, train: str) -> tuple[str, ...]:
    """The matrices trained by subset ``train`` in ``form``.

    Args:
        form: ``"merged"`` or ``"separate"``.
        train: a subset key of that form (:data:`TRAIN`).

    Returns:
        A tuple of matrix names, e.g. ``("K", "Q")``.

    Raises:
        ValueError: unknown form, or a subset that the form does not have.
    """
    if form not in TRAIN:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    if train not in TRAIN[form]:
        raise ValueError(f"train must be one of {', '.join(TRAIN[form])} for the {form} form, got {train!r}")
    return TRAIN[form][train]


# --------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Method:
    """A fine-tuned model: an objective and a subset (``None`` for the pretrained model).

    ``trains`` names what is trained in words (``all``, ``V``, ``W``, ``K``, ``Q``); the
    subset key depends on the form: ``W`` is ``w`` when merged and ``kq`` when separate.
    """

    name: str
    objective: str | None
    trains: str | None
    label: str
    #: ``(learning rate, steps)`` of its SGD run behind the figures' markers at ``d = 5``
    #: (``Objective.sgd``, else :data:`DEFAULT_SGD`); ``None`` for the pretrained model
    sgd: tuple[float, int] | None = None

    def train_for(self, form: str) -> str | None:
        """The subset key of this method in ``form``.

        Args:
            form: ``"merged"`` or ``"separate"``.

        Returns:
            The subset key (``"w"`` merged, ``"kq"`` separate for ``trains == "W"``), or
            ``None`` for the pretrained model.

        Raises:
            ValueError: the form has no such subset (``zs-k`` in the merged form).
        """
        if self.trains is None:
            return None
        key = {"all": "all", "V": "v", "K": "k", "Q": "q", "W": "w" if form == "merged" else "kq"}[self.trains]
        trained_matrices(form, key)
        return key


#: ``(learning rate, steps)`` of a method whose objective lists no SGD setting for it
DEFAULT_SGD = (0.01, 3000)
#: what a method trains, in words, in the order of :data:`METHODS`
METHOD_TRAINS = ("all", "V", "W", "K", "Q")


def _method(objective, trains):
    if objective is None:
        return Method("pretrained", None, None, "pretrained")
    obj = OBJECTIVES[objective]
    suffix = "all" if trains == "all" else trains.lower()
    sgd = next(((lr, steps) for t, lr, steps in obj.sgd if t == trains), DEFAULT_SGD)
    return Method(f"{objective}-{suffix}", objective, trains, f"{obj.label}-{trains}", sgd)


#: ``pretrained``, then ``OBJECTIVE-SUBSET`` for every objective with ``methods`` set, in
#: the order of :data:`OBJECTIVES`, and every entry of :data:`METHOD_TRAINS`
METHODS: dict[str, Method] = {m.name: m for m in [_method(None, None)] + [
    _method(o, t) for o in FINETUNE_OBJECTIVES if OBJECTIVES[o].methods for t in METHOD_TRAINS]}


def methods_for(form: str) -> tuple[str, ...]:
    """The method names available in ``form`` (``zs-k`` and friends are separate-only).

    Args:
        form: ``"merged"`` or ``"separate"``.

    Returns:
        A tuple of keys of :data:`METHODS`, ``pretrained`` first.

    Raises:
        ValueError: ``form`` is not one of :data:`FORMS`.

    >>> methods_for("merged")
    ('pretrained', 'zs-all', 'zs-v', 'zs-w', 'zsfs-all', 'zsfs-v', 'zsfs-w')
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    out = []
    for name, meth in METHODS.items():
        try:
            meth.train_for(form)
        except ValueError:
            continue
        out.append(name)
    return tuple(out)


#: the authors' eight fine-tuning methods (separate form), in their order
EXPERIMENT_METHODS = ("zs-all", "zsfs-all", "zs-q", "zsfs-q", "zs-k", "zsfs-k", "zs-v", "zsfs-v")


# --------------------------------------------------------------------------- reduced coordinates
@dataclass(frozen=True)
class Basis:
    """A matrix of the invariant algebra.  ``t = (0, theta0, 0)``, ``e_0``, ``e_y`` unit
    vectors of the constant and label slots, ``Pi`` the x-block ``I_d - theta0 theta0^T``."""

    name: str
    matrix: str
    tex_matrix: str
    sq_norm: str   #: squared Frobenius norm, as text in ``d``
    tex: str       #: the subscript used in coordinate names, LaTeX


BASIS: dict[str, Basis] = {bs.name: bs for bs in (
    Basis("0", "e_0 e_0^T", r"e_0 e_0^\top", "1", "0"),
    Basis("tt", "t t^T", r"t t^\top", "1", "tt"),
    Basis("ty", "t e_y^T", r"t e_y^\top", "1", "ty"),
    Basis("yt", "e_y t^T", r"e_y t^\top", "1", "yt"),
    Basis("yy", "e_y e_y^T", r"e_y e_y^\top", "1", "yy"),
    Basis("perp", "Pi (x-block)", r"\Pi", "d - 1", r"\perp"),
)}
BASIS_NAMES = tuple(BASIS)


@dataclass(frozen=True)
class Coordinate:
    """A reduced coordinate: the coefficient of basis matrix ``basis`` in matrix ``matrix``."""

    name: str
    matrix: str
    basis: str
    tex: str


MERGED_COORDS: tuple[Coordinate, ...] = (
    Coordinate("a", "V", "yt", "a"),
    Coordinate("b", "V", "yy", "b"),
    Coordinate("q", "W", "0", "q"),
    Coordinate("alpha", "W", "perp", r"\alpha"),
    Coordinate("beta", "W", "tt", r"\beta"),
    Coordinate("h", "W", "yt", "h"),
)
SEPARATE_COORDS: tuple[Coordinate, ...] = MERGED_COORDS[:2] + tuple(
    Coordinate(f"{M}_{bs.name}", M, bs.name, f"{M}_{{{bs.tex}}}") for M in ("K", "Q") for bs in BASIS.values())


def coordinate_names(form: str) -> tuple[str, ...]:
    """The reduced coordinate names of ``form``, in canonical order.

    Args:
        form: ``"merged"`` or ``"separate"``.

    Returns:
        A tuple of names: ``a b q alpha beta h`` (merged), or ``a b`` then ``K_<basis>``
        and ``Q_<basis>`` for every basis name (separate).

    Raises:
        ValueError: an unknown form.

    >>> coordinate_names("merged")
    ('a', 'b', 'q', 'alpha', 'beta', 'h')
    >>> coordinate_names("separate")[:4]
    ('a', 'b', 'K_0', 'K_tt')
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    return tuple(c.name for c in (MERGED_COORDS if form == "merged" else SEPARATE_COORDS))


# --------------------------------------------------------------------------- defaults
# DEFAULTS, Config, DEFAULT_CONFIG and the declared grids live in :mod:`vocabulary.configs`.


# --------------------------------------------------------------------------- conventions
@dataclass(frozen=True)
class Convention:
    """A modelling convention of the one-layer linear attention model (plain data).

    Args:
        name: the name used on the command line and in reports.
        query_in_context: ``True``: the query token is in ``S`` and ``S`` is normalised by
            the token count ``n + 1`` (the default convention).  ``False``: ``S`` averages the
            ``n`` demonstrations only (normalised by ``n``); at ``n = 0`` the prediction then
            reads the query token alone, ``S = z_q z_q^T`` (so the zero-shot error and ZS
            are those of the default convention).
        task_prior: the pretraining (and unseen-task) distribution of ``theta``:
            ``"sphere"`` (uniform on the unit sphere, the default) or ``"gaussian"``
            (``N(0, I_d / d)``, so ``E|theta|^2 = 1`` and ``E|theta|^4 = (d+2)/d``).
        covariance: the feature covariance ``Sigma_x``: ``None`` for the identity (the default),
            or a two-level diagonal spectrum ``(k, s)``: the first ``k`` coordinates of ``x``
            have variance ``s`` (an int, a float or a ``fractions.Fraction``), the other
            ``d - k`` variance 1.  (A two-level spectrum keeps ``d`` a symbol in the SymPy
            route.)
        description: one line for reports.
    """

    name: str
    query_in_context: bool = True
    task_prior: str = "sphere"
    covariance: tuple | None = None
    description: str = ""

    @property
    def is_default(self) -> bool:
        """Whether this is the default convention in every field (its name aside)."""
        return self.query_in_context and self.task_prior == "sphere" and self.covariance is None

    def as_dict(self) -> dict:
        """The fields as plain JSON data."""
        return {"name": self.name, "query_in_context": self.query_in_context,
                "task_prior": self.task_prior,
                "covariance": None if self.covariance is None else
                {"k": self.covariance[0], "variance": self.covariance[1]},
                "description": self.description}


#: the named conventions, the default first
CONVENTIONS = {
    "default": Convention("default", description="query token in S, normalisation n+1; theta uniform on "
                          "the sphere; x ~ N(0, I_d)"),
    "query-excluded": Convention("query-excluded", query_in_context=False,
                                 description="S averages the n demonstrations only (normalisation n; "
                                 "at n = 0 the query token alone)"),
    "gaussian-prior": Convention("gaussian-prior", task_prior="gaussian",
                                 description="theta ~ N(0, I_d/d) for pretraining and unseen tasks"),
    "anisotropic": Convention("anisotropic", covariance=(1, 4),
                              description="x ~ N(0, Sigma_x), Sigma_x = diag(4, 1, ..., 1): one direction "
                              "of variance 4"),
}
DEFAULT_CONVENTION = CONVENTIONS["default"]


def convention_named(name) -> Convention:
    """The :class:`Convention` named ``name`` (a :class:`Convention` is returned as is).

    Args:
        name: a key of :data:`CONVENTIONS`, a :class:`Convention`, or ``None`` (the default).

    Returns:
        The :class:`Convention`.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if isinstance(name, Convention):
        return name
    if name is None:
        return DEFAULT_CONVENTION
    if name not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {name!r}")
    return CONVENTIONS[name]
