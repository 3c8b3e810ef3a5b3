"""Process-tree facts read from /proc, so the kit can tell whether a driver left anything behind."""

from __future__ import annotations

from pathlib import Path


def session_members(sid: int) -> list[str]:
    """Live processes whose session id is ``sid`` (the Driver starts each driver in a new session, so
    its pid is the session id of everything it forks), as "pid:comm" strings; zombies count as gone."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # comm may contain spaces and parentheses: the fields after the last ')' are fixed.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            found.append(f"{entry.name}:{comm}")
    return found
