"""The channels a campaign can name, as a registry: the built-in ones below, and those other packages add
(`CHANNELS.register(name, factory)` or an entry point in the group `dunning.channels`). A factory takes
the campaign and the settings and returns a channel (see `dunning.channels.Channel`)."""
from __future__ import annotations

from dunning.config import Settings
from dunning.errors import InputError
from dunning.exports.dialects import MAILCHIMP, Dialect
from dunning.plugins import Registry

CHANNELS: Registry = Registry("channel", "dunning.channels")


def channel_for(campaign, settings: Settings):
    """The channel the campaign names, built from its settings."""
    return CHANNELS.get(campaign.channel)(campaign, settings)


def channels_for(campaign, settings: Settings) -> list:
    """The channels one send run works with: for a channel that sends one message at a time, one per connection
    (the campaign's `connections`), each sent over in a thread of its own; a batch channel (Mailchimp), or one that
    works alone (letters, merged into one file to print), once."""
    first = channel_for(campaign, settings)
    if getattr(first, "batch", False) or getattr(first, "alone", False):
        return [first]
    return [first] + [channel_for(campaign, settings) for _ in range(campaign.connections - 1)]


def _outbox(campaign, settings: Settings):
    from dunning.channels.outbox import OutboxChannel

    return _with_attachments(campaign, settings,
                             OutboxChannel(settings.root / campaign.channel_settings.get("folder", "outbox") / campaign.name))


def _smtp(campaign, settings: Settings):
    from dunning.channels.smtp import SmtpChannel, SmtpSettings

    options = campaign.channel_settings
    check_keys(campaign, options, SmtpSettings)
    if "host" not in options:
        raise InputError(f"{campaign.path}: [smtp] needs host")
    return _with_attachments(campaign, settings, SmtpChannel(SmtpSettings(**options)))


def _with_attachments(campaign, settings: Settings, channel):
    """The e-mail channel, attaching what the campaign asks for: a Swiss QR-bill (SVG) to reminders paid into a Swiss
    account (`attach_qr_bill = true`), the term's invoice (PDF) to a notice before a due date (`attach_invoice = true`)."""
    if not (campaign.attach_qr_bill or campaign.attach_invoice):
        return channel
    from dunning import bank
    from dunning.channels import Attaching, attachments, printed

    letterhead, accounts = (printed.of_settings(settings) if campaign.attach_invoice  # the letterhead, and the accounts with it
                            else (None, bank.accounts(settings.section("payment"), str(settings.shop.get("name", "")))))
    attachers = [attachments.qr_bills(accounts)] if campaign.attach_qr_bill else []
    if campaign.attach_invoice:
        attachers.append(attachments.invoices(letterhead, accounts))
    return Attaching(channel, attachments.both(*attachers))


def _letters(campaign, settings: Settings):
    from dunning.channels import printed
    from dunning.channels.letters import LettersChannel, LettersSettings, folder_of

    check_keys(campaign, campaign.channel_settings, LettersSettings)
    options = LettersSettings(**campaign.channel_settings)
    if not isinstance(options.duplex, bool):
        raise InputError(f"{campaign.path}: [letters] duplex must be true or false")
    letterhead, accounts = printed.of_settings(settings)
    return LettersChannel(folder_of(campaign, settings.root), letterhead, accounts, duplex=options.duplex)


_letters.needs_email, _letters.needs_postal_address = False, True


def delivers_batches(contacts: Dialect | None = None):
    """Mark a channel factory whose channels deliver whole batches and write the messages themselves from merge fields
    (Mailchimp), with the tool's rules for its contacts (one per address, a limit per field): a campaign asks it before
    anything is built, and gives an address one message that carries its other orders (`letters.together`)."""
    def mark(factory):
        factory.batch, factory.contacts = True, contacts
        return factory
    return mark


@delivers_batches(MAILCHIMP)
def _mailchimp(campaign, settings: Settings):
    from dunning.channels.mailchimp import MailchimpChannel, MailchimpSettings, Shop

    options = campaign.channel_settings
    check_keys(campaign, options, MailchimpSettings)
    if "list_id" not in options:
        raise InputError(f"{campaign.path}: [mailchimp] needs list_id (the audience id)")
    stage = settings.policy.stage_named(campaign.stage)
    return MailchimpChannel(MailchimpSettings(**options), settings.templates(),
                            Shop(str(settings.shop.get("name", "")), str(settings.shop.get("contact", "")), stage,
                                 str(settings.shop.get("address", "")), dict(campaign.subjects)))


def check_keys(campaign, options: dict, settings_class) -> None:
    """A channel's table in the campaign file may hold only its settings' fields."""
    unknown = set(options) - set(settings_class.__dataclass_fields__)
    if unknown:
        raise InputError(f"{campaign.path}: [{campaign.channel}] has unknown key(s) {', '.join(sorted(unknown))}")


for _name, _factory in (("outbox", _outbox), ("smtp", _smtp), ("mailchimp", _mailchimp), ("letters", _letters)):
    CHANNELS.register(_name, _factory)
