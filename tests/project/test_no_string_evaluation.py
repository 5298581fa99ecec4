"""No string evaluation anywhere in the project's code."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = re.compile(r"(?<![\w.])(eval|exec|__import__)\s*\(|\b(sympify|parse_expr)\s*\(|\bsp\.S\s*\("
                       r"|\bS\s*\(\s*['\"]")


def test_no_string_evaluation_in_the_code():
    """No eval/exec/sympify/parse_expr anywhere in the packages; the only parser used is
    SymPy's LaTeX parser, on LaTeX iclft wrote itself, in the round-trip check."""
    offenders = []
    for pkg in ("vocabulary", "theory", "numerics", "proofs_check", "experiment", "benchmarks"):
        for path in (ROOT / pkg).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if FORBIDDEN.search(code) and "``" not in code:
                    offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
