"""The letters channel: each message as a PDF letter to the customer's postal address (one per customer where the policy
puts a customer's orders in one letter), and each run's letters merged into one PDF to print."""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dunning import bank
from dunning.channels import Outgoing, PermanentFailure, printed
from dunning.errors import InputError
from dunning.files import private_folder, safe_name, write_private


PRINT_FILE = re.compile(r"print-\d{3,}\.pdf")


@dataclass(frozen=True)
class LettersSettings:
    """A campaign's [letters] table."""

    folder: str = "letters"  # relative to the workspace; each campaign writes into <folder>/<campaign>
    duplex: bool = True


def folder_of(campaign, root: Path) -> Path:
    """Where a letters campaign writes: <workspace>/<[letters] folder>/<campaign>."""
    return root / str(campaign.channel_settings.get("folder", LettersSettings.folder)) / campaign.name


def to_print(folder: Path) -> list[Path]:
    """The files to print a campaign's runs wrote, in the order written."""
    return sorted(p for p in folder.glob("print-*.pdf") if PRINT_FILE.fullmatch(p.name)) if folder.is_dir() else []


class LettersChannel:
    """Writes <folder>/<order>.<reminder id>.pdf (a rerun rewrites the same file) and, when the run closes, the run's
    letters in the order written as print-<n>.pdf (the next free number). `duplex`: a letter of an odd number of pages
    is followed by a blank one there, so that no sheet printed on both sides carries two customers' letters."""

    alone = True  # one connection: the run's letters go into one file to print

    def __init__(self, folder: Path, letterhead: printed.Letterhead, accounts: dict[str, bank.Account], duplex: bool = True):
        self.folder, self.letterhead, self.accounts, self.duplex = private_folder(folder), letterhead, accounts, duplex
        self.written: list[Path] = []
        self.printed: Path | None = None

    def send(self, message: Outgoing) -> str:
        try:
            data = printed.pdf(message, self.letterhead, self.accounts)
        except InputError as exc:
            raise PermanentFailure(str(exc)) from None
        target = write_private(self.folder / f"{safe_name(message.order_id)}.{message.reminder_id}.pdf", data, overwrite=True)
        self.written.append(target)
        return f"letter:{target.name}"

    def close(self) -> None:
        """The run's letters, merged into one PDF to print."""
        if self.written:
            self.printed = merge(self.written, self.folder, duplex=self.duplex)
            self.written = []


def merge(letters: list[Path], folder: Path, *, duplex: bool) -> Path:
    """The letters as one PDF in `folder`, print-<n>.pdf with the next free n (taken by creating it, so two runs at once
    never share one)."""
    from pypdf import PdfReader, PdfWriter  # with the letters extra

    writer = PdfWriter()
    for letter in letters:
        reader = PdfReader(letter)
        writer.append(reader)
        if duplex and len(reader.pages) % 2:
            box = reader.pages[-1].mediabox
            writer.add_blank_page(width=box.width, height=box.height)
    buffer = io.BytesIO()
    writer.write(buffer)
    number = 1
    while True:
        target = folder / f"print-{number:03d}.pdf"
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            number += 1
            continue
        return write_private(target, buffer.getvalue(), overwrite=True)
