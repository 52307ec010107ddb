"""The README's quickstart runs as written, command by command, in a fresh folder, with the installed `dunning`
(the two install lines are what CI itself does before the tests: a fresh venv, `pip install .`)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
INSTALLING = ("python3 -m venv", "pip install")


def quickstart() -> list[str]:
    text = README.read_text("utf-8")
    section = text[text.index("### Quickstart"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith(INSTALLING)]


def test_the_quickstart_runs_as_written(tmp_path):
    commands = quickstart()
    assert commands[0].startswith("dunning init") and len(commands) >= 8
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DUNNING_DATABASE_URL", None)
    env.pop("DUNNING_SECRET_KEYS", None)
    script = "set -e\n" + "\n".join(f"echo {shlex.quote('$ ' + c)} >&2\n{c}" for c in commands)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "internal error" not in done.stderr
    shop = tmp_path / "myshop"
    assert (shop / "overdue.csv").exists() and list((shop / "outbox" / "second-reminder").glob("*.eml"))
    assert "sent" in done.stdout or "sent" in done.stderr
