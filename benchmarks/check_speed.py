"""`iclft check` against a fixed SymPy/NumPy reference workload, CPU and wall time.

    python benchmarks/check_speed.py                 # print the table
    python benchmarks/check_speed.py --write-readme  # also replace the block between <!-- CHECK-TIMING --> and <!-- /CHECK-TIMING -->

The reference workload (issue 11): ``expand((x + 2y - z + 1)^32)``, one ``factor`` of a
small polynomial, and twenty 300 x 300 ``matmul + tanh`` steps, in a fresh interpreter; it
runs three times, interleaved with the checks, and the ratios use the median of the three.
``check`` is run in fresh interpreters: cold (empty cache folder, so every expression is
derived) and warm (cache filled by the cold run), with ``--jobs 1`` and with the default
jobs.  CPU time is user + system of the child processes (``resource.RUSAGE_CHILDREN``),
the stable figure on a shared machine; wall time and the 1-minute load average
(``os.getloadavg``) before and after each run are printed next to it.
"""
import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- CHECK-TIMING -->"
END = "<!-- /CHECK-TIMING -->"

REFERENCE = r"""
import numpy as np, sympy as sp
x, y, z = sp.symbols("x y z")
sp.expand((x + 2*y - z + 1)**32)
sp.factor(x**6 - y**6)
rng = np.random.default_rng(0)
A = rng.standard_normal((300, 300)) / 17.0
X = np.eye(300)
for _ in range(20):
    X = np.tanh(A @ X)
"""


def _run(argv, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.strip()[-500:]}")
    return cpu, wall, load0, os.getloadavg()[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args(argv)
    rows, refs = [], []

    def reference(label):
        r = _run([sys.executable, "-c", REFERENCE])
        refs.append(r[0])
        rows.append((f"reference workload ({label})", *r))
    reference("first")
    with tempfile.TemporaryDirectory(prefix="iclft-bench-") as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        check = [sys.executable, "-m", "proofs_check", "check"]
        rows.append(("check --jobs 1, cold (empty cache)", *_run(check + ["--jobs", "1"], env)))
        rows.append(("check --jobs 1, warm", *_run(check + ["--jobs", "1"], env)))
        reference("second")
        rows.append((f"check (default --jobs {len(os.sched_getaffinity(0))}), warm", *_run(check, env)))
    reference("third")
    # the reference's CPU time varies by tens of percent from run to run on a shared
    # machine: the ratios use the median of its three runs, interleaved with the checks
    ref_cpu = sorted(refs)[1]
    lines = [f"Measured on {time.strftime('%Y-%m-%d')} by `python benchmarks/check_speed.py` "
             f"(Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs); "
             "CPU = user + system time of the process and its workers.", "",
             "| run | CPU (s) | wall (s) | CPU / reference CPU | load avg before, after |",
             "|---|---|---|---|---|"]
    for name, cpu, wall, l0, l1 in rows:
        lines.append(f"| {name} | {cpu:.1f} | {wall:.1f} | {cpu / ref_cpu:.1f} | {l0:.1f}, {l1:.1f} |")
    lines += ["", "The reference workload is `expand((x + 2y - z + 1)^32)`, one `factor` and twenty 300x300",
              "matmul+tanh steps, run three times in fresh interpreters (before, between and after the",
              f"checks); the ratios divide by the median of the three ({ref_cpu:.1f} s). NumPy keeps its",
              "default threads there; `check` runs",
              "its claims with one BLAS thread per process (its matrices are at most 14 x 14). Load",
              "inflates every CPU figure, so compare the ratios of one run. Regenerate with",
              "`python benchmarks/check_speed.py --write-readme`."]
    body = "\n".join(lines)
    print(body)
    if args.write_readme:
        sys.path.insert(0, str(ROOT))
        from proofs_check.storage.atomic import write_text_atomic
        readme = ROOT / "README.md"
        text = readme.read_text()
        if MARK not in text:
            raise SystemExit(f"README.md has no {MARK} marker")
        if END not in text:
            raise SystemExit(f"README.md has no {END} marker")
        head, rest = text.split(MARK, 1)
        tail = rest.split(END, 1)[1]
        write_text_atomic(readme, head + MARK + "\n\n" + body + "\n\n" + END + tail)
        print(f"wrote the check timing into {readme}")


if __name__ == "__main__":
    main()
