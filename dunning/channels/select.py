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

        _check_keys(campaign, options, SmtpSettings)
        if "host" not in options:
            raise InputError(f"{campaign.path}: [smtp] needs host")
        return SmtpChannel(SmtpSettings(**options))
    if campaign.channel == "mailchimp":
        from dunning.channels.mailchimp import MailchimpChannel, MailchimpSettings, Shop

        _check_keys(campaign, options, MailchimpSettings)
        if "list_id" not in options:
            raise InputError(f"{campaign.path}: [mailchimp] needs list_id (the audience id)")
        stage = next(s for s in settings.policy.stages if s.name == campaign.stage)
        shop = settings.section("shop")
        return MailchimpChannel(
            MailchimpSettings(**options), settings.templates(),
            Shop(str(shop.get("name", "")), str(shop.get("contact", "")), stage, bool(stage.fees)),
        )
    raise InputError(f"{campaign.path}: unknown channel {campaign.channel}")


def _check_keys(campaign, options: dict, settings_class) -> None:
    unknown = set(options) - set(settings_class.__dataclass_fields__)
    if unknown:
        raise InputError(f"{campaign.path}: [{campaign.channel}] has unknown key(s) {', '.join(sorted(unknown))}")
