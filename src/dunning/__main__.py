"""`python -m dunning` runs the command line."""
from dunning.cli import app

app(prog_name="dunning")
