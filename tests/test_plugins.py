"""A new channel and a new dialect are each one file plus a registration."""
import csv
import shutil

from typer.testing import CliRunner

from dunning.cli import app
from tests.plugins.postcard import PostcardChannel
from tests.plugins.plaintool import PLAINTOOL  # noqa: F401  (importing it registers the tool)

runner = CliRunner()


def test_a_campaign_sends_through_a_channel_from_outside(tmp_path, examples, signing_key):
    runner.invoke(app, ["init", str(tmp_path)])
    shutil.copytree(examples, tmp_path / "examples")
    (tmp_path / "campaigns" / "cards.toml").write_text(
        'stage = "friendly"\nchannel = "postcard"\n[input]\nfile = "../examples/plans.csv"\n'
        '[sender]\nfrom = "Shop <billing@shop.example>"\n')
    PostcardChannel.sent.clear()
    assert runner.invoke(app, ["campaign", "prepare", "cards", "--as-of", "2026-11-20"]).exit_code == 0
    result = runner.invoke(app, ["campaign", "send", "cards", "--send", "--as-of", "2026-11-20", "--json"])
    assert result.exit_code == 0, result.output
    assert len(PostcardChannel.sent) == 7 and {m.to for m in PostcardChannel.sent} >= {"noor.jansen@example.nl"}


def test_an_export_for_a_tool_from_outside(tmp_path, examples, signing_key):
    result = runner.invoke(app, ["export", str(examples / "plans.csv"), "--to", "plaintool", "-o", str(tmp_path / "p.csv"),
                                 "--as-of", "2026-11-20"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "p.csv").open(encoding="utf-8"), delimiter="|"))
    assert len(rows) == 7 and "<<first_name>>" in (tmp_path / "p.template.friendly.en.txt").read_text("utf-8")
