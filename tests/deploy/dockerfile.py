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


def in_context(src: Path, words: list[str]) -> list[str]:
    """A command of the image with its paths under the build WORKDIR moved to the copy in `src`."""
    workdir = next(i.args for i in instructions() if i.keyword == "WORKDIR").rstrip("/") + "/"
    return [str(src / w.removeprefix(workdir)) if w.startswith(workdir) else w for w in words]


def last(keyword: str) -> str:
    """The arguments of the instruction that counts (Docker uses the last ENTRYPOINT, CMD, ...)."""
    return [i.args for i in instructions() if i.keyword == keyword][-1]


def entrypoint_command(src: Path) -> list[str]:
    return in_context(src, exec_form(last("ENTRYPOINT")))


def start_command(src: Path) -> list[str]:
    """What the container runs by default: ENTRYPOINT followed by CMD."""
    return entrypoint_command(src) + exec_form(last("CMD"))


def healthcheck_command(src: Path) -> list[str]:
    return in_context(src, exec_form(last("HEALTHCHECK").partition("CMD ")[2]))
