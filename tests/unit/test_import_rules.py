"""The layering rules of bot/ and integrations/, checked on the imports of every module.

A small AST walk (no import-linter, no importing of the code): every `import` and `from ... import`
anywhere in a module counts, including the lazy ones inside functions, because a lazy import is
still a dependency and only hides a cycle. Rules:

- no cycle between modules, and none between sub-packages (bot.jobs -> bot.handlers -> bot.jobs);
  a top-level module such as bot/web.py counts as its own unit;
- bot/core imports nothing of the bot outside bot.core, and no Slack, database or HTTP library;
- integrations import nothing of bot;
- bot/store makes no Slack calls: no slack_sdk, slack_bolt, bot.slackapi, bot.notify, bot.listeners
  or bot.handlers. slack_sdk's SQLAlchemy table builders for installations and OAuth state are
  storage, not calls, and are the one exception;
- product code never imports bot.sandbox (the fake Slack). The exception is bot/cli.py, the
  composition root, whose `readybot demo` command starts the sandbox, and only inside a function
  so that no other command loads it;
- jobs never import listeners or handlers (the Slack edge sits above the jobs it starts).

A violation is printed with the import line that causes it (file:line), so the fix starts there.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "integrations")



@dataclass(frozen=True)
class Rule:
    importers: str  # the modules it applies to (a prefix)
    forbidden: tuple[str, ...]  # imported module prefixes they must not use
    why: str
    allowed: tuple[str, ...] = ()  # narrower prefixes that stay allowed
    exempt: tuple[str, ...] = ()  # importers it does not apply to


RULES = (
    Rule("bot.core", ("bot", "slack_sdk", "slack_bolt", "sqlalchemy", "requests"),
         "bot/core imports nothing of the bot but bot.core, and no Slack, database or HTTP library",
         allowed=("bot.core",)),
    Rule("integrations", ("bot",), "integrations import nothing of bot"),
    Rule("bot.store", ("slack_sdk", "slack_bolt", "bot.slackapi", "bot.notify", "bot.listeners", "bot.handlers"),
         "bot/store makes no Slack calls",
         allowed=("slack_sdk.oauth.installation_store.sqlalchemy", "slack_sdk.oauth.state_store.sqlalchemy")),
    Rule("bot.jobs", ("bot.listeners", "bot.handlers"), "jobs never import listeners or handlers"),
    Rule("", ("bot.sandbox",), "product code never imports bot.sandbox", exempt=("bot.sandbox",)),
)
COMPOSITION_ROOT = "bot.cli"  # may import bot.sandbox, inside a function only
MAX_SHOWN = 3  # imports listed per pair of units in a cycle; the first ones are enough to start


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    target: str  # the imported module (resolved, absolute)
    file: str  # path relative to the checked root
    line: int
    text: str  # the import statement as written
    lazy: bool  # inside a function


def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Module name -> file for every .py file under the packages."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, root: Path, modules: dict[str, Path]) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    is_package = path.name == "__init__.py"
    found = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import | ast.ImportFrom):
                text = " ".join((ast.get_source_segment(source, child) or "").split())
                for target in _targets(child, name, is_package, modules):
                    found.append(Import(name, target, str(path.relative_to(root)), child.lineno, text, inner))
            visit(child, inner)

    visit(tree, False)
    return found


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    # `from bot.store import runs` depends on the module bot.store.runs, not only on the package.
    targets = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
    return targets if len(targets) == len(node.names) else [base, *targets]


def _under(module: str, prefix: str) -> bool:
    return not prefix or module == prefix or module.startswith(prefix + ".")


def rule_violations(edges: list[Import]) -> list[str]:
    problems = []
    for edge, rule in ((edge, rule) for edge in edges for rule in RULES):
        if not _under(edge.importer, rule.importers) or any(_under(edge.importer, e) for e in rule.exempt):
            continue
        if not any(_under(edge.target, f) for f in rule.forbidden) or any(_under(edge.target, a) for a in rule.allowed):
            continue
        if _under(edge.target, "bot.sandbox") and edge.importer == COMPOSITION_ROOT and edge.lazy:
            continue
        problems.append(f"{edge.file}:{edge.line}: `{edge.text}` - {rule.why}")
    return problems


def cycles(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def cycle_violations(edges: list[Import], unit_of) -> list[str]:  # noqa: ANN001 - module name -> unit
    graph: dict[str, dict[str, list[Import]]] = {}
    for edge in edges:
        a, b = unit_of(edge.importer), unit_of(edge.target)
        if a != b:
            graph.setdefault(a, {}).setdefault(b, []).append(edge)
    problems = []
    for component in cycles(graph):
        lines = [f"cycle between {' <-> '.join(component)}:"]
        for a in component:
            for b in sorted(set(graph.get(a, {})) & set(component)):
                shown = graph[a][b][:MAX_SHOWN]
                lines.extend(f"    {e.file}:{e.line}: `{e.text}`" for e in shown)
                if len(graph[a][b]) > len(shown):
                    lines.append(f"    ... and {len(graph[a][b]) - len(shown)} more imports of {b} in {a}")
        problems.append("\n".join(lines))
    return problems


def package_of(module: str) -> str:
    """A module's unit for package-level cycles: its sub-package (bot.jobs, integrations.mlflow),
    or itself for a top-level module such as bot.web."""
    return ".".join(module.split(".")[:2])


def check(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Every broken rule under `root`, one message each; [] when the layering holds."""
    modules = module_files(root, packages)
    edges = [edge for name, path in modules.items() for edge in imports_of(name, path, root, modules)]
    internal = [edge for edge in edges if edge.target in modules]
    return (rule_violations(edges)
            + cycle_violations(internal, lambda module: module)
            + cycle_violations(internal, package_of))


def test_the_real_tree_keeps_the_layering_rules():
    problems = check(ROOT)
    assert not problems, "import rules broken:\n" + "\n".join(problems)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_a_broken_tree_reports_each_rule_with_its_import_line(tmp_path):
    write(tmp_path, {
        "bot/__init__.py": "",
        "bot/web.py": "from bot.push import handle\n",
        "bot/push.py": "import json\n\nfrom bot.web import Response\n",
        "bot/core/__init__.py": "",
        "bot/core/runs.py": "from bot.store.runs import ensure_run\n",
        "bot/store/__init__.py": "",
        "bot/store/runs.py": "from slack_sdk import WebClient\nfrom slack_sdk.oauth.state_store.sqlalchemy import X\n",
        "bot/jobs/__init__.py": "",
        "bot/jobs/poll.py": "def later():\n    from ..handlers import tracking\n",
        "bot/handlers/tracking.py": "from bot.jobs import poll\n",
        "bot/notify/render.py": "from bot.sandbox import blockkit\n",
        "bot/sandbox/__init__.py": "from bot.notify import render\n",
        "bot/cli.py": "from bot.sandbox import demo\n\ndef demo_command():\n    from bot.sandbox import demo\n",
        "bot/sandbox/demo.py": "",
        "integrations/__init__.py": "",
        "integrations/mlflow.py": "from bot.core import runs\n",
    })
    problems = check(tmp_path)
    report = "\n".join(problems)
    assert "bot/core/runs.py:1: `from bot.store.runs import ensure_run` - bot/core imports nothing" in report
    assert "bot/store/runs.py:1: `from slack_sdk import WebClient` - bot/store makes no Slack calls" in report
    assert "bot/store/runs.py:2" not in report  # slack_sdk's table builders are storage
    assert "bot/jobs/poll.py:2: `from ..handlers import tracking` - jobs never import" in report
    assert "bot/notify/render.py:1: `from bot.sandbox import blockkit` - product code never" in report
    assert "bot/cli.py:1: `from bot.sandbox import demo` - product code never" in report
    assert "bot/cli.py:4" not in report  # the composition root, lazily
    assert "integrations/mlflow.py:1: `from bot.core import runs` - integrations import nothing" in report
    assert ("cycle between bot.push <-> bot.web:\n    bot/push.py:3: `from bot.web import Response`\n"
            "    bot/web.py:1: `from bot.push import handle`") in report
    assert "cycle between bot.handlers.tracking <-> bot.jobs.poll:" in report
    assert "cycle between bot.handlers <-> bot.jobs:" in report
    assert "cycle between bot.notify <-> bot.sandbox:" in report
    assert len(problems) == 6 + 3 + 3  # six rules, three module cycles, three package cycles


def test_a_tree_that_keeps_the_rules_passes(tmp_path):
    write(tmp_path, {
        "bot/__init__.py": "",
        "bot/web.py": "from bot.httpio import Response\nfrom bot.push import handle\n",
        "bot/push.py": "from bot.httpio import Response\nfrom bot.jobs import poll\n",
        "bot/httpio.py": "import json\n",
        "bot/jobs/__init__.py": "",
        "bot/jobs/poll.py": "from bot.core.runs import step\nfrom bot.store import runs\n",
        "bot/core/runs.py": "from .facts import Fact\n",
        "bot/core/facts.py": "from datetime import datetime\n",
        "bot/store/__init__.py": "",
        "bot/store/runs.py": "from sqlalchemy import select\n",
        "bot/handlers/schedules.py": "from bot.jobs import poll\n",
        "bot/cli.py": "def demo_command():\n    from bot.sandbox import demo\n",
        "bot/sandbox/demo.py": "from bot.notify.blockkit import block_kit_errors\n",
        "bot/notify/blockkit.py": "",
        "integrations/mlflow.py": "import requests\n",
    })
    assert check(tmp_path) == []
