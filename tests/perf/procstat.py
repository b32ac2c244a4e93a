"""CPU spent by other processes, read from /proc/<pid>/stat (Linux; fields as proc(5) numbers
them: 4 ppid, 14 utime, 15 stime, in clock ticks). The benchmarks quote it beside wall time:
what a request or a poll costs the server moves far less with the shared machine's load."""

from __future__ import annotations

import os
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def parent_and_cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system CPU in ticks) of a process, None once it has gone."""
    try:
        # After the command name's ")": the name itself may hold spaces and parentheses.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])
