"""The README's library example runs as written, on the shipped example data."""
import re
import shutil
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_the_library_example_runs(tmp_path, examples, monkeypatch):
    text = README.read_text("utf-8")
    section = text[text.index("## For the developer and analyst"):text.index("## Architecture")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copy(examples / "plans.csv", tmp_path)
    shutil.copy(examples / "payments.csv", tmp_path)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (the README's own example)
    assert len(scope["found"].result.orders) == 7 and scope["linked"]["manage_url"].str.startswith("https://").all()
    assert scope["rows"].empty  # nothing was reminded yet: a look and links are not reminders
