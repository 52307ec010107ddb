"""The channel a campaign names, built from its settings."""
from __future__ import annotations

from dunning.config import Settings
from dunning.errors import InputError


def channel_for(campaign, settings: Settings):
    """OutboxChannel, SmtpChannel or MailchimpChannel for the campaign."""
    options = campaign.channel_settings
    if campaign.channel == "outbox":
        from dunning.channels.outbox import OutboxChannel

        return OutboxChannel(settings.root / options.get("folder", "outbox") / campaign.name)
    if campaign.channel == "smtp":
        from dunning.channels.smtp import SmtpChannel, SmtpSettings

        if "host" not in options:
            raise InputError(f"{campaign.path}: [smtp] needs host")
        allowed = set(SmtpSettings.__dataclass_fields__)
        unknown = set(options) - allowed
        if unknown:
            raise InputError(f"{campaign.path}: [smtp] has unknown key(s) {', '.join(sorted(unknown))}")
        return SmtpChannel(SmtpSettings(**options))
    raise InputError(f"{campaign.path}: the {campaign.channel} channel is not available yet; use outbox or smtp")
