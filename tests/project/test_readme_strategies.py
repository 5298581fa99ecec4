"""The README's "Property tests of your own" snippet runs as written (public strategies)."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_property_test_snippet_runs():
    text = README.read_text()
    m = re.search(r"<!-- user-property-test -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README snippet marker not found"
    ns = {}
    exec(compile(m.group(1), "README.md", "exec"), ns)  # our own file, not user input
    tests = [f for name, f in ns.items() if name.startswith("test_") and callable(f)]
    assert len(tests) == 2
    for t in tests:
        t()
