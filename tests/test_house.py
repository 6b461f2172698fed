"""The house rules: no import cycles in the library, at module or function level, and no private
helper imported across modules."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its file (function bodies included)."""
    folder = ROOT / package
    names = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for path in folder.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    deps.add(node.module.split(".")[0])
                elif node.level == 1:
                    deps.update(a.name for a in node.names)
                elif node.module and node.module.startswith(f"{package}."):
                    deps.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] for a in node.names if a.name.startswith(f"{package}."))
        graph[path.stem] = {d for d in deps if d in names and d != path.stem}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_in_the_library():
    graph = _imports("nvae")
    assert _cycle(graph) is None
    # the split checkpoint and command line are in the graph, with the edges that make them acyclic
    assert {"atomic", "checkpoint_format", "train_state", "cli_args", "commands", "export"} <= set(graph)
    assert graph["atomic"] == set() and "checkpoint" not in graph["train_state"]
    assert {"cli_args", "commands", "export"} <= graph["cli"]
    assert "cli" not in graph["commands"] | graph["export"] | graph["cli_args"]


# Private names imported across the library's modules (none left; an entry here must name a reason).
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


def _private_imports(package: str) -> set[tuple[str, str, str]]:
    """(module, imported module, name) for every `_name` a module of the package imports from another."""
    found = set()
    for path in (ROOT / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.level == 1:
                    source = node.module.split(".")[0]
                elif node.module.startswith(f"{package}."):
                    source = node.module.split(".")[1]
                else:
                    continue
                found.update((path.stem, source, a.name) for a in node.names if a.name.startswith("_"))
    return found


def test_the_library_imports_no_private_name_of_another_module():
    assert _private_imports("nvae") - KNOWN_PRIVATE_IMPORTS == set()


def test_no_import_cycles_in_the_app():
    assert _cycle(_imports("app")) is None


def test_the_library_never_imports_streamlit_or_the_app():
    for path in sorted((ROOT / "nvae").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ("streamlit", "app") for n in names), f"{path.name} imports {names}"


def test_the_app_imports_no_private_name_of_another_module():
    """No `from app.x import _y`, `from nvae.x import _y` or `module._y` across the app's modules."""
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("app", "nvae"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.relative_to(ROOT)} imports {private} from {node.module}"
                modules.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                modules.update(a.asname or a.name for a in node.names if a.name.split(".")[0] in ("app", "nvae"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                assert not node.attr.startswith("_"), f"{path.relative_to(ROOT)} uses {node.value.id}.{node.attr}"


def test_importing_the_app_changes_no_torch_setting():
    """Importing the app's modules sets nothing (the thread count is app/main.py's call)."""
    import os
    import subprocess
    import sys

    code = (
        "import torch; torch.set_num_threads(2); "
        "from app import cache, chooser, controls, messages, output, analysis, state; "
        "from app import figure_style, component_figures, attention_figures, sparsity_figures, training_figures; "
        "from app import interpolation_figures, player_figures, walkthrough_figures; "
        "print(torch.get_num_threads())"
    )
    env = {**os.environ, "NVAE_APP_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2"
