"""The manage page's words in nl, de, fr and en."""
from __future__ import annotations

from dunning.languages import typeset

LANGUAGES = ("nl", "de", "fr", "en")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "next_due": "Next payment, due on {date}",
        "colon": ":",
        "pay_by": "Please pay by {date}.",
        "title": "Your order {order}", "hello": "Hello {name},", "product": "Product", "due": "Due on",
        "amount": "Amount", "paid": "Paid", "open": "Open", "fee": "Reminder fee (apart from the order)", "interest": "Default interest (apart from the order)", "costs": "Collection costs (apart from the order)",
        "open_now": "Open now", "later": "Due later", "paid_since": "Paid since our reminder",
        "settled": "Thank you: nothing is open on this order any more.", "pay": "How to pay",
        "pay_link": "Pay {amount} online", "transfer": "Bank transfer", "beneficiary": "Beneficiary",
        "iban": "IBAN", "bic": "BIC", "reference": "Reference", "qr": "Scan with your banking app",
        "change": "Ask to change the payment method", "wanted": "Preferred method", "message": "Message (optional)",
        "send": "Send request", "requested": "Thank you: we received your request and will get back to you.",
        "questions": "Questions? Write to {contact}.", "language": "Language",
        "missing_title": "Link not found", "missing": "This link does not open anything. Please use the link from our most recent e-mail.",
        "gone_title": "This link has expired", "gone": "For your security, links stop working after a while. Write to {contact} and we will send you a fresh one.",
        "limited_title": "Too many attempts", "limited": "Please wait a few minutes and try again.",
    },
    "de": {
        "next_due": "Nächste Zahlung, fällig am {date}",
        "colon": ":",
        "pay_by": "Bitte zahlen Sie bis zum {date}.",
        "title": "Ihre Bestellung {order}", "hello": "Guten Tag {name},", "product": "Produkt", "due": "Fällig am",
        "amount": "Betrag", "paid": "Bezahlt", "open": "Offen", "fee": "Mahngebühr (getrennt von der Bestellung)", "interest": "Verzugszinsen (getrennt von der Bestellung)", "costs": "Pauschale und Inkassokosten (getrennt von der Bestellung)",
        "open_now": "Jetzt offen", "later": "Später fällig", "paid_since": "Bezahlt seit unserer Erinnerung",
        "settled": "Vielen Dank: Für diese Bestellung ist nichts mehr offen.", "pay": "So bezahlen Sie",
        "pay_link": "{amount} online bezahlen", "transfer": "Überweisung", "beneficiary": "Empfänger",
        "iban": "IBAN", "bic": "BIC", "reference": "Verwendungszweck", "qr": "Mit Ihrer Banking-App scannen",
        "change": "Änderung der Zahlungsart anfragen", "wanted": "Gewünschte Zahlungsart", "message": "Nachricht (freiwillig)",
        "send": "Anfrage senden", "requested": "Vielen Dank: Wir haben Ihre Anfrage erhalten und melden uns.",
        "questions": "Fragen? Schreiben Sie an {contact}.", "language": "Sprache",
        "missing_title": "Link nicht gefunden", "missing": "Dieser Link öffnet nichts. Bitte nutzen Sie den Link aus unserer letzten E-Mail.",
        "gone_title": "Dieser Link ist abgelaufen", "gone": "Zu Ihrer Sicherheit gelten Links nur eine Weile. Schreiben Sie an {contact}, dann senden wir Ihnen einen neuen.",
        "limited_title": "Zu viele Versuche", "limited": "Bitte warten Sie einige Minuten und versuchen Sie es erneut.",
    },
    "nl": {
        "next_due": "Volgende betaling, te betalen op {date}",
        "colon": ":",
        "pay_by": "Gelieve te betalen vóór {date}.",
        "title": "Uw bestelling {order}", "hello": "Beste {name},", "product": "Product", "due": "Vervaldatum",
        "amount": "Bedrag", "paid": "Betaald", "open": "Open", "fee": "Aanmaningskosten (los van de bestelling)", "interest": "Rente (los van de bestelling)", "costs": "Incassokosten (los van de bestelling)",
        "open_now": "Nu open", "later": "Later te betalen", "paid_since": "Betaald sinds onze herinnering",
        "settled": "Dank u wel: er staat niets meer open voor deze bestelling.", "pay": "Zo betaalt u",
        "pay_link": "{amount} online betalen", "transfer": "Overboeking", "beneficiary": "Begunstigde",
        "iban": "IBAN", "bic": "BIC", "reference": "Betalingskenmerk", "qr": "Scan met uw bankapp",
        "change": "Andere betaalwijze aanvragen", "wanted": "Gewenste betaalwijze", "message": "Bericht (optioneel)",
        "send": "Verzoek versturen", "requested": "Dank u wel: we hebben uw verzoek ontvangen en nemen contact op.",
        "questions": "Vragen? Schrijf naar {contact}.", "language": "Taal",
        "missing_title": "Link niet gevonden", "missing": "Deze link opent niets. Gebruik de link uit onze laatste e-mail.",
        "gone_title": "Deze link is verlopen", "gone": "Voor uw veiligheid werken links maar een tijdje. Schrijf naar {contact} en we sturen u een nieuwe.",
        "limited_title": "Te veel pogingen", "limited": "Wacht een paar minuten en probeer het opnieuw.",
    },
    "fr": {
        "next_due": "Prochain paiement, dû le {date}",
        "colon": " :",
        "pay_by": "Merci de régler avant le {date}.",
        "title": "Votre commande {order}", "hello": "Bonjour {name},", "product": "Produit", "due": "Échéance",
        "amount": "Montant", "paid": "Payé", "open": "Dû", "fee": "Frais de relance (à part de la commande)", "interest": "Intérêts de retard (à part de la commande)", "costs": "Indemnité et frais de recouvrement (à part de la commande)",
        "open_now": "Dû maintenant", "later": "À échoir", "paid_since": "Payé depuis notre rappel",
        "settled": "Merci : plus rien n'est dû sur cette commande.", "pay": "Comment payer",
        "pay_link": "Payer {amount} en ligne", "transfer": "Virement", "beneficiary": "Bénéficiaire",
        "iban": "IBAN", "bic": "BIC", "reference": "Référence", "qr": "Scannez avec votre application bancaire",
        "change": "Demander un autre moyen de paiement", "wanted": "Moyen souhaité", "message": "Message (facultatif)",
        "send": "Envoyer la demande", "requested": "Merci : nous avons reçu votre demande et reviendrons vers vous.",
        "questions": "Des questions ? Écrivez à {contact}.", "language": "Langue",
        "missing_title": "Lien introuvable", "missing": "Ce lien n'ouvre rien. Utilisez le lien de notre dernier e-mail.",
        "gone_title": "Ce lien a expiré", "gone": "Pour votre sécurité, les liens ne restent valables qu'un temps. Écrivez à {contact} et nous vous en enverrons un nouveau.",
        "limited_title": "Trop de tentatives", "limited": "Veuillez patienter quelques minutes puis réessayer.",
    },
}
TEXTS = {lang: {key: typeset(text, lang) for key, text in texts.items()} for lang, texts in TEXTS.items()}
METHODS = ("bank_transfer", "sepa_debit", "card", "paypal")
METHOD_NAMES: dict[str, dict[str, str]] = {
    "en": {"bank_transfer": "Bank transfer", "sepa_debit": "SEPA direct debit", "card": "Card", "paypal": "PayPal"},
    "de": {"bank_transfer": "Überweisung", "sepa_debit": "SEPA-Lastschrift", "card": "Kreditkarte", "paypal": "PayPal"},
    "nl": {"bank_transfer": "Overboeking", "sepa_debit": "SEPA-incasso", "card": "Creditcard", "paypal": "PayPal"},
    "fr": {"bank_transfer": "Virement", "sepa_debit": "Prélèvement SEPA", "card": "Carte bancaire", "paypal": "PayPal"},
}
