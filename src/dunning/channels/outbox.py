"""The outbox channel: each reminder as an .eml file in a folder, for review or another mailer."""
from __future__ import annotations

import os
from pathlib import Path

from dunning.channels import Outgoing
from dunning.channels.email import as_bytes
from dunning.files import private_folder, safe_name, write_private


class OutboxChannel:
    """Writes <folder>/<order>.<reminder id>.eml atomically (a rerun rewrites the same file)."""

    def __init__(self, folder: Path):
        self.folder = private_folder(folder)

    def send(self, message: Outgoing) -> str:
        target = self.folder / f"{safe_name(message.order_id)}.{message.reminder_id}.eml"
        partial = write_private(target.with_suffix(".eml.part"), as_bytes(message), overwrite=True)
        os.replace(partial, target)
        return message.message_id

    def close(self) -> None:
        """Nothing to release."""
