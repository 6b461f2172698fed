"""The house rules: no import cycles in the library, at module or function level, and no private
helper imported across modules."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> dict[str, Path]:
    """Dotted module name (relative to the package: "model.nvib", "config") -> its file, every subfolder
    walked; a subpackage's __init__ is named by the subpackage."""
    folder = ROOT / package
    found = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts) or "__init__"] = path
    return found


def _resolve(package: str, module: str, path: Path, node: ast.ImportFrom, names: set[str]) -> set[str]:
    """The package's modules (dotted, as `_modules` names them) that an ImportFrom in `module` imports."""
    if node.level:
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if module == "__init__":
            here = []
        base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
        target = ".".join([*base, *(node.module.split(".") if node.module else [])])
    elif node.module and (node.module == package or node.module.startswith(f"{package}.")):
        target = node.module[len(package) + 1 :]
    else:
        return set()
    found = set()
    for a in node.names:  # `from .model import nvib` imports the module model.nvib
        sub = f"{target}.{a.name}" if target else a.name
        if sub in names:
            found.add(sub)
        elif target in names:
            found.add(target)
    return found


def _imports(package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its file (function bodies included),
    subfolders walked (dotted names: "model.nvib")."""
    modules = _modules(package)
    names = set(modules)
    graph = {}
    for module, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                deps |= _resolve(package, module, path, node, names)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(f"{package}.") and a.name[len(package) + 1 :] in names:
                        deps.add(a.name[len(package) + 1 :])
        graph[module] = {d for d in deps if d != module and not module.startswith(f"{d}.")}
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


def test_the_import_reader_walks_subfolders_and_resolves_relative_imports(tmp_path, monkeypatch):
    """The reader that every rule below rests on: a relative import two folders up, a module imported
    from a subpackage by name, and an absolute import all become edges."""
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "high").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("from ..base import X\n")
    (pkg / "high" / "__init__.py").write_text("")
    (pkg / "high" / "b.py").write_text("def f():\n    from ..low import a\n    import pkg.base\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = _imports("pkg")
    assert graph["low.a"] == {"base"}
    assert graph["high.b"] == {"low.a", "base"}


def test_no_import_cycles_in_the_library():
    graph = _imports("nvae")
    assert _cycle(graph) is None
    # the split checkpoint and command line are in the graph, with the edges that make them acyclic
    assert {"store.atomic", "store.format", "store.train_state", "cli.args", "cli.commands", "cli.export"} <= set(graph)
    assert graph["store.atomic"] == set() and "store.checkpoint" not in graph["store.train_state"]
    assert {"cli.args", "cli.commands", "cli.export"} <= graph["cli.main"]
    assert "cli.main" not in graph["cli.commands"] | graph["cli.export"] | graph["cli.args"]


# The library's wings, lowest first: a module may import its own wing and the wings below it, never a
# wing above it nor another wing of the same floor. The root modules (config, locations) are floor 0.
FLOORS = {
    "config": 0,
    "locations": 0,
    "model": 1,
    "data": 2,
    "store": 3,
    "evaluation": 4,
    "training": 5,
    "readout": 5,
    "tools": 6,
    "cli": 7,
}


def _wing(module: str) -> str:
    return module.split(".")[0]


def test_every_library_module_lives_in_a_known_wing():
    """A new wing or a new root module must be placed on a floor here first."""
    modules = set(_modules("nvae")) - {"__init__", "__main__"}
    assert {_wing(m) for m in modules} == set(FLOORS)
    assert {m for m in modules if "." not in m and m not in FLOORS} == set()


def test_no_wing_imports_a_wing_above_it_or_beside_it():
    upward = []
    for module, deps in _imports("nvae").items():
        if module in ("__init__", "__main__"):
            continue
        for dep in deps:
            here, there = _wing(module), _wing(dep)
            if here != there and (FLOORS[there] > FLOORS[here] or FLOORS[there] == FLOORS[here]):
                upward.append(f"{module} -> {dep}")
    assert upward == []


def test_the_model_wing_imports_only_the_config():
    """The model reads top to bottom with nothing but torch and its settings under it."""
    for module, deps in _imports("nvae").items():
        if _wing(module) == "model":
            assert {d for d in deps if _wing(d) != "model"} <= {"config"}, module


def test_the_readout_never_imports_training():
    for module, deps in _imports("nvae").items():
        if _wing(module) == "readout":
            assert not {d for d in deps if _wing(d) == "training"}, module


# Private names imported across the library's modules (none left; an entry here must name a reason).
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


def _private_imports(package: str) -> set[tuple[str, str, str]]:
    """(module, imported module, name) for every `_name` a module of the package imports from another."""
    found = set()
    modules = _modules(package)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                for source in _resolve(package, module, path, node, set(modules)):
                    if source != module:
                        found.update((module, source, a.name) for a in node.names if a.name.startswith("_"))
    return found


def test_the_library_imports_no_private_name_of_another_module():
    assert _private_imports("nvae") - KNOWN_PRIVATE_IMPORTS == set()


def test_the_private_import_finder_finds_one(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text("_x = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from ..base import _x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _private_imports("pkg") == {("sub.a", "base", "_x")}


def test_no_import_cycles_in_the_app():
    assert _cycle(_imports("app")) is None


def test_the_library_never_imports_streamlit_or_the_app():
    paths = sorted((ROOT / "nvae").rglob("*.py"))
    assert len(paths) > 40  # every subfolder is read
    for path in paths:
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
        "from app import cache, chooser, controls, messages, output, inputs, latents, state, stores; "
        "from app.figures import style, components, attention, sparsity, training; "
        "from app.figures import interpolation, player, walkthrough; "
        "print(torch.get_num_threads())"
    )
    env = {**os.environ, "NVAE_APP_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2"
