"""A newsletter tool's dialect added from outside the package: one file and one registration."""
from dunning.exports.dialects import DIALECTS, GENERIC, Dialect

PLAINTOOL = Dialect(**{**vars(GENERIC), "name": "plaintool", "title": "Plain Tool", "delimiter": "|",
                       "placeholder": lambda name: f"<<{name}>>"})
DIALECTS.register(PLAINTOOL.name, PLAINTOOL)
