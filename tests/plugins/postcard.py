"""A channel added from outside the package, as another package would: one file and one registration."""
from dunning.channels import Outgoing
from dunning.channels.select import CHANNELS


class PostcardChannel:
    """Keeps every reminder it is given (the mock channel of the tests): address, subject, text."""

    sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> str:
        PostcardChannel.sent.append(message)
        return f"postcard-{message.reminder_id}"

    def close(self) -> None:
        """Nothing to release."""


CHANNELS.register("postcard", lambda campaign, settings: PostcardChannel())
