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


def _readme_commands() -> list[list[str]]:
    """The `python -m nvae ...` command lines of the README's shell blocks, as argv (continuations
    joined, comments dropped; a line with a `...` placeholder is left out)."""
    import shlex

    readme = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if " -m nvae " not in line or "..." in line:
                continue
            argv = shlex.split(line, comments=True)
            commands.append(argv[argv.index("nvae") + 1 :])
    return commands


def test_every_nvae_command_in_the_readme_parses_and_names_real_recipes_and_files():
    from nvae.cli.main import build_parser
    from nvae.config import RECIPES

    commands = _readme_commands()
    assert len(commands) > 20 and any(c[:1] == ["train"] for c in commands)
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # an unknown command, option or recipe exits here
        recipe = getattr(args, "recipe", None)
        assert recipe is None or recipe in RECIPES, argv
    readme = (ROOT / "README.md").read_text()
    for path in re.findall(r"\b(nvae/[a-z_/]+\.py)\b", readme):
        assert (ROOT / path).is_file(), path
