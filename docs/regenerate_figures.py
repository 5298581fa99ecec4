"""Regenerate every figure of the README and docs: ``python docs/regenerate_figures.py``.

Writes ``docs/figures/{icl_curves,w_star,flow_trajectories,pretrained_threshold,escape}``
(``.png`` and ``.pdf``, at the default configuration, SGD markers on) and
``docs/figures/MANIFEST.json``, the fingerprint of each figure
(:mod:`proofs_check.export.figure_manifest`: a digest of the code that draws it and of the numbers
it plots).  ``tests/export/test_figure_style.py`` fails when a committed figure's fingerprint is
older than the code.  The experiment figures (``linear_tf_thetas_qkv``,
``experiment_train_losses``) come from ``iclft experiment`` (needs JAX) and are not
rewritten here.  Takes a few minutes on one core (the SGD markers).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))
    from proofs_check.export import figures
    from vocabulary import DEFAULT_CONFIG
    from proofs_check.export.escape_figure import draw_escape, escape_data
    from proofs_check.export.figure_manifest import drawers, fingerprint
    from proofs_check.export.figure_style import text_outside

    out = ROOT / "docs" / "figures"
    _paths, data = figures.make_figures(out, DEFAULT_CONFIG, sgd=True, progress=sys.stderr.isatty(),
                                        return_data=True)
    data["escape"] = escape_data(DEFAULT_CONFIG)
    figures.save_figure(draw_escape(data["escape"]), out, "escape")
    manifest = {}
    for name, d in data.items():
        clipped = text_outside(drawers()[name](d))
        if clipped:
            raise SystemExit(f"{name}: text outside the figure: {clipped}")
        manifest[name] = {**fingerprint(name, d), "files": [f"{name}.png", f"{name}.pdf"]}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(manifest)} figures and MANIFEST.json to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
