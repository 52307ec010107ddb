"""The README's library example runs as written, on the shipped example data, using only public names."""
import re
import shutil
from pathlib import Path

import dunning

README = Path(__file__).parent.parent / "README.md"


def test_the_library_example_runs_with_public_names_only(tmp_path, examples, monkeypatch):
    text = README.read_text("utf-8")
    section = text[text.index("## For the developer and analyst"):text.index("## Architecture")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    used = set(re.findall(r"\bdunning\.([A-Za-z_]+)", re.sub(r"#.*", "", code)))
    assert used <= set(dunning.__all__), used - set(dunning.__all__)
    shutil.copy(examples / "plans.csv", tmp_path)
    shutil.copy(examples / "payments.csv", tmp_path)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (the README's own example)
    assert len(scope["found"].result.orders) == 7 and scope["linked"]["manage_url"].str.startswith("https://").all()
    assert set(scope["alone"].orders["currency"]) == {"EUR"} and len(scope["alone"].orders) == 5  # from the DataFrame alone
    assert scope["rows"].empty  # nothing was reminded yet: a look and links are not reminders
