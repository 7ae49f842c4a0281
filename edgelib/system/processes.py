"""Edge servers as real separate processes: start, wait until they serve, stop or kill.

    with ServerProcess(config_path, "edge-0") as server:
        Client(server.address).infer(...)

``prefix`` runs the server inside something else, e.g. a network namespace
(``shaping.ShapedHost.command``). Leaving the block stops the server (SIGTERM, then SIGKILL
after ``grace_s``); ``kill()`` ends it at once (fault tests).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
from pathlib import Path


class ServerProcess:
    def __init__(self, config: str | Path, name: str, prefix: list[str] | None = None,
                 start_timeout_s: float = 60.0, grace_s: float = 5.0):
        self.command = [*(prefix or []), sys.executable, "-m", "edgelib.system.server",
                        "--config", str(config), "--name", name]
        self.name, self.start_timeout_s, self.grace_s = name, start_timeout_s, grace_s
        self.process: subprocess.Popen | None = None
        self.address = ""

    def start(self) -> "ServerProcess":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.errors = tempfile.TemporaryFile(mode="w+")  # never a pipe nobody reads
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True, env=env)
        line = self._first_line()
        if not line.startswith("READY "):
            err = self._stop_and_read_errors()
            raise RuntimeError(f"server {self.name!r} did not start (said {line!r}): {err}")
        self.address = line.split()[1]
        return self

    def _first_line(self) -> str:
        sel = selectors.DefaultSelector()
        sel.register(self.process.stdout, selectors.EVENT_READ)
        if not sel.select(self.start_timeout_s):
            return f"nothing within {self.start_timeout_s:g} s"
        return self.process.stdout.readline().strip()

    def _stop_and_read_errors(self) -> str:
        self.kill()
        self.errors.seek(0)
        tail = self.errors.read()
        return tail.strip().splitlines()[-1] if tail.strip() else "no error output"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is not None:
            self.process.stdout.close()
            self.errors.close()

    def cpu_s(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux /proc), s."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the server process (Linux /proc), MB."""
        pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

