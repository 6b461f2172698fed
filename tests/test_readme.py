"""The README's Python example runs as written and prints token strings, not indices."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"From Python:\n\n```python\n(.*?)```", readme, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    first = out.stdout.splitlines()[0].split()
    assert first[0] == "⟨prior⟩"  # component 0 of the NVAE, then the sentence's own tokens
    assert any(line.startswith("cat ") for line in out.stdout.splitlines())


def test_files_the_readme_names_exist():
    readme = (ROOT / "README.md").read_text()
    for path in ("examples/sentences.txt", "examples/pairs.tsv", "data/README.md", "docs/nvib.md", "LICENSE"):
        assert path in readme and (ROOT / path).is_file(), path
    pairs = (ROOT / "examples" / "pairs.tsv").read_text().splitlines()
    assert pairs and all(len(line.split("\t")) == 2 for line in pairs)
