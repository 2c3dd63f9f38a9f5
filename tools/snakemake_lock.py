"""Detect a stale Snakemake lock before `make run` (used by the Makefile).

Snakemake locks the working directory while it runs (`.snakemake/locks/`).
A run that was killed (kill -9, a closed terminal, an out-of-memory kill)
leaves the lock behind, and the next run then stops with "Directory cannot
be locked". This script tells the two cases apart:

* locks present and a snakemake process is running in this folder: another
  run is active; wait for it (exit 2);
* locks present and no snakemake is running here: the lock is stale; say
  to run `make unlock` (exit 1), or, with --unlock-ok, allow the unlock
  (exit 0).

Standard library only (runs before the virtual environment is complete).
Process detection reads /proc (Linux); elsewhere any running snakemake
process counts as active.

Usage: python tools/snakemake_lock.py [--unlock-ok] [FOLDER]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def running_snakemake(folder: Path) -> list[int]:
    """Process ids of snakemake processes whose working directory is ``folder`` (Linux: /proc)."""
    me = os.getpid()
    folder = folder.resolve()
    proc = Path("/proc")
    if proc.is_dir():
        found = []
        for entry in proc.iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                cwd = Path(os.readlink(entry / "cwd")).resolve()
            except OSError:  # gone, or another user's process
                continue
            if "snakemake" in cmd and "snakemake_lock.py" not in cmd and cwd == folder:
                found.append(int(entry.name))
        return sorted(found)
    try:  # no /proc (macOS): any snakemake process counts
        out = subprocess.run(["ps", "-axo", "pid=,command="], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return sorted(int(line.split(None, 1)[0]) for line in out.splitlines()
                  if "snakemake" in line and "snakemake_lock.py" not in line and line.split(None, 1)[0].isdigit()
                  and int(line.split(None, 1)[0]) != me)


def main(argv: list[str]) -> int:
    unlock_ok = "--unlock-ok" in argv
    args = [a for a in argv if a != "--unlock-ok"]
    folder = Path(args[0]) if args else Path.cwd()
    locks = folder / ".snakemake" / "locks"
    held = sorted(p.name for p in locks.glob("*.lock")) if locks.is_dir() else []
    if not held:
        return 0
    pids = running_snakemake(folder)
    if pids:
        print(f"snakemake is running in {folder.resolve()} (pid {', '.join(map(str, pids))}) and holds its lock: "
              "wait for it to finish, or stop it, before starting another run.", file=sys.stderr)
        return 2
    if unlock_ok:
        return 0
    print(f"A previous snakemake run in {folder.resolve()} was interrupted and left its lock in "
          f".snakemake/locks/ ({', '.join(held)}); no snakemake is running here now. Remove the stale lock with\n"
          "    make unlock        (= .venv/bin/snakemake --unlock)\n"
          "then start the run again (finished outputs are kept; incomplete ones are redone).", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
