"""Registries that other packages extend: newsletter-tool dialects and delivery channels.

A package adds one by registering it in code (`register`) or through an entry point in its own
pyproject.toml, loaded on first use:

    [project.entry-points."dunning.dialects"]
    mytool = "mypackage.dunning_tool:DIALECT"        # a dunning.exports.dialects.Dialect

    [project.entry-points."dunning.channels"]
    sms = "mypackage.dunning_sms:make_channel"        # a callable (campaign, settings) -> channel
"""
from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from dunning.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named plug-ins of one kind: the built-in ones, those registered in code, and those of installed packages."""

    def __init__(self, kind: str, group: str):
        self.kind, self.group = kind, group
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str, item: T) -> T:
        self._items[name.lower()] = item
        return item

    def get(self, name: str) -> T:
        """The plug-in of that name; an unknown name lists the ones there are."""
        self._load()
        try:
            return self._items[name.lower()]
        except KeyError:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self)}") from None

    __getitem__ = get

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._items))

    def __contains__(self, name: object) -> bool:
        self._load()
        return str(name).lower() in self._items

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for point in entry_points(group=self.group):
            self._items.setdefault(point.name.lower(), point.load())


