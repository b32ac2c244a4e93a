"""What tests need to know about deploy/Dockerfile, read from the file itself so they follow it."""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with their continuation lines joined and comments dropped."""
    found, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            found.append(Instruction(keyword.upper(), " ".join(args.split())))
            pending = ""
    return found


def exec_form(args: str) -> list[str]:
    """["a", "b"] (exec form) or a b (shell form) as a list of words."""
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def copy_build_context(into: Path) -> None:
    """Lay out what the image's COPY lines put in its WORKDIR: the files its install sees."""
    for step in (i for i in instructions() if i.keyword == "COPY"):
        *sources, dest = [w for w in shlex.split(step.args) if not w.startswith("--")]
        target = into / dest.removeprefix("./")
        for source in sources:
            origin = REPO / source
            place = target / origin.name if dest.endswith("/") else target
            place.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, place, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(origin, place)
