"""The outbox channel: each reminder as an .eml file in a folder, for review or another mailer."""
from __future__ import annotations

import os
import re
from pathlib import Path

from dunning.channels import Outgoing
from dunning.channels.email import build


class OutboxChannel:
    """Writes <folder>/<order>.<reminder id>.eml atomically (a rerun rewrites the same file)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: Outgoing) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", message.order_id).strip("._") or "order"
        target = self.folder / f"{safe}.{message.reminder_id}.eml"
        partial = target.with_suffix(".eml.part")
        partial.write_bytes(bytes(build(message)))
        os.replace(partial, target)
        return message.message_id

    def close(self) -> None:
        """Nothing to release."""
