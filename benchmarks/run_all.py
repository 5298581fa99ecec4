"""Run every benchmark in one process and print (or write into README.md) the tables.

    python benchmarks/run_all.py                 # print the Markdown
    python benchmarks/run_all.py --write-readme  # replace the block after <!-- BENCHMARKS -->

The README block is rewritten atomically; nothing else in README.md changes.
"""
import argparse
import contextlib
import io
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import closed_form  # noqa: E402
import flow_vs_sgd  # noqa: E402
import symbolic  # noqa: E402

from proofs_check.storage.atomic import write_text_atomic  # noqa: E402

MARK = "<!-- BENCHMARKS -->"


def capture(fn, *args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return buf.getvalue().strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    parts = [
        f"Measured on {time.strftime('%Y-%m-%d')} by `python benchmarks/run_all.py` "
        f"(Python {platform.python_version()}, {platform.machine()}); each ratio is measured "
        "side by side in the same run.",
        "### Closed form against Monte Carlo, and scaling in d\n\n" + capture(closed_form.main, []),
        "### Dimension-free derivation against naive symbolic expansion\n\n" + capture(symbolic.main),
        "### Exact flow against SGD: time to answer and accuracy\n\n" + capture(flow_vs_sgd.main, []),
    ]
    body = "\n\n".join(parts) + f"\n\n(total benchmark time {time.perf_counter() - t0:.0f} s)\n"
    if not args.write_readme:
        print(body)
        return
    readme = ROOT / "README.md"
    text = readme.read_text()
    if MARK not in text:
        raise SystemExit(f"README.md has no {MARK} marker")
    write_text_atomic(readme, text.split(MARK)[0] + MARK + "\n\n" + body)
    print(f"wrote the benchmark tables into {readme}")


if __name__ == "__main__":
    main()
