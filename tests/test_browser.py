"""The manage page, the merchant's dashboard and the report in a real browser: Playwright driving Debian's chromium on loopback."""
import contextlib
import io
import json
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from dunning.web import webhook
from tests.test_web import KEY, SECRET, app_for, token  # noqa: F401  (shop fixture below)
from tests.test_web import shop  # noqa: F401
from tests.conftest import reference_of

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install -y chromium)")


@contextlib.contextmanager
def served(app, host: str = "127.0.0.1"):
    """The app on a loopback port, in a thread; yields its base URL."""
    http = make_server(host, 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{http.server_port}"
    finally:
        http.shutdown()


@pytest.fixture
def server(shop):  # noqa: F811
    with served(app_for(shop).application) as url:
        yield url


@pytest.fixture
def browser():
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def test_open_the_link_see_the_amounts_and_save_screenshots(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, options in (("desktop", {"viewport": {"width": 1280, "height": 900}}),
                          ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2})):
        page = browser.new_page(**options)
        response = page.goto(f"{server}/m/{token()}")
        assert response.status == 200
        assert page.locator("h1").inner_text() == "Uw bestelling P-2001"
        assert page.locator("#open-now").inner_text() == "€\xa0247,00"
        assert page.locator("tbody tr").count() == 6
        page.screenshot(path=str(ARTIFACTS / f"manage-page-{name}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= options["viewport"]["width"]  # nothing sticks out sideways on a phone
        page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_qr_code_scans_to_the_epc_transfer_from_a_screenshot_of_the_whole_page(shop, server, browser, width):  # noqa: F811
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=2, is_mobile=width < 500)
    page.goto(f"{server}/m/{token()}")
    shot = page.screenshot(full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"epc-qr-{width}.png").write_bytes(shot)
    size = page.locator(".qr svg").bounding_box()
    assert size["width"] >= 180 and size["width"] == size["height"]  # whole and square, never cropped
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert len(results) == 1
    fields = results[0].text.split("\n")
    assert fields[0:2] == ["BCD", "002"] and fields[3] == "SCT"
    assert fields[4:7] == ["COBADEFFXXX", "Beispiel GmbH", "DE89370400440532013000"]
    assert fields[7].startswith("EUR") and Decimal(fields[7][3:]) == Decimal("247.00")
    assert fields[9] == reference_of(shop[1], "P-2001") == page.locator("#reference").inner_text()


@pytest.fixture
def franc_server(shop, monkeypatch):  # noqa: F811
    """The page of a Swiss order in francs (the elopage export's E-10430), paid into a Swiss QR-IBAN."""
    from typer.testing import CliRunner

    from dunning import config
    from dunning.cli import app
    from dunning.web import create_app
    from tests.test_web import TODAY

    settings, store = shop
    monkeypatch.chdir(settings.root)
    recorded = CliRunner().invoke(app, ["overdue", "examples/orders_elopage.csv", "--profile", "elopage", "--as-of", "2026-11-20"])
    assert recorded.exit_code == 0, recorded.output
    swiss = config.Settings({**settings.data, "payment": {"accounts": {"CHF": SWISS_ACCOUNT}}}, settings.root, settings.source)
    with served(create_app(swiss, store=store, environ={"DUNNING_SECRET_KEYS": KEY}, today=lambda: TODAY)) as url:
        yield url


@pytest.mark.parametrize("width", [1280, 390])
def test_a_franc_order_fits_the_screen_and_keeps_iban_and_reference_groups_whole(franc_server, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=2, is_mobile=width < 500)
    page.goto(f"{franc_server}/m/{token('E-10430')}?lang=de")
    assert page.locator("h1").inner_text() == "Ihre Bestellung E-10430"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"franc-order-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing scrolls sideways
    card = page.locator("main section").first.bounding_box()
    for cell in page.locator("table.installments td").all():
        box = cell.bounding_box()
        assert card["x"] <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"], cell.inner_text()
    assert "159,00\xa0CHF" in page.locator("table.installments").inner_text()
    groups = page.locator("#iban .group, #reference .group")
    assert groups.count() == 6 + 6  # CH44 3199 9123 0008 8901 2 and a QR reference in six blocks
    for group in groups.all():
        assert group.evaluate("g => g.getClientRects().length") == 1, group.inner_text()  # never broken inside
    assert page.locator("#iban").inner_text().replace(" ", "") == "CH4431999123000889012"


def test_switch_language(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/m/{token()}")
    page.get_by_role("link", name="DE", exact=True).click()
    assert page.locator("h1").inner_text() == "Ihre Bestellung P-2001"
    assert page.locator("#open-now").inner_text() == "247,00\xa0€"
    assert page.locator("html").get_attribute("lang") == "de"


def test_a_webhook_payment_turns_the_page_to_paid(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/m/{token()}?lang=en")
    assert page.locator("#open-now").inner_text() == "€247.00"
    body = json.dumps({"payment_id": "pi_browser", "order_id": "P-2001", "amount": "247.00", "currency": "EUR",
                       "paid_at": "2026-11-21"}).encode()
    stamp = int(time.time())
    request = urllib.request.Request(f"{server}/webhooks/payments", data=body, method="POST", headers={
        "Content-Type": "application/json", webhook.TIMESTAMP_HEADER: str(stamp), webhook.SIGNATURE_HEADER: webhook.sign(SECRET, stamp, body)})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201
    page.reload()
    assert page.locator("#status").inner_text() == "Thank you: nothing is open on this order any more."
    assert page.locator("#paid-since").inner_text() == "€247.00"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "manage-page-paid.png"), full_page=True)


SWISS_ACCOUNT = {"iban": "CH44 3199 9123 0008 8901 2", "beneficiary": "Beispiel GmbH", "street": "Bahnhofstrasse",
                 "house_number": "1", "postal_code": "8001", "city": "Zürich"}


@pytest.fixture
def swiss_server(shop):  # noqa: F811
    """The page of a shop whose euro account is Swiss (a QR-IBAN): EUR orders get a Swiss QR-bill."""
    from dunning import config
    from dunning.web import create_app
    from tests.test_web import TODAY

    settings, store = shop
    swiss = config.Settings({**settings.data, "payment": {"accounts": {"EUR": SWISS_ACCOUNT}}}, settings.root, settings.source)
    with served(create_app(swiss, store=store, environ={"DUNNING_SECRET_KEYS": KEY}, today=lambda: TODAY)) as url:
        yield url


def test_a_swiss_account_gets_a_qr_bill_that_scans_to_the_payment(swiss_server, browser):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    from dunning.bank import qr_reference

    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
    page.goto(f"{swiss_server}/m/{token()}?lang=de")
    assert page.locator(".qr svg").count() == 0  # no EPC code for a Swiss account
    image = Image.open(io.BytesIO(page.locator("#qr-bill svg").screenshot()))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    fields = results[0].text.splitlines()
    assert fields[0:3] == ["SPC", "0200", "1"] and fields[3] == "CH4431999123000889012"
    assert fields[5:11] == ["Beispiel GmbH", "Bahnhofstrasse", "1", "8001", "Zürich", "CH"]
    assert Decimal(fields[18]) == Decimal("247.00") and fields[19] == "EUR"
    assert fields[27:29] == ["QRR", qr_reference("P-2001")] and fields[29] == "P-2001"
    assert page.locator("#reference").inner_text().replace(" ", "") == qr_reference("P-2001")
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    phone.goto(f"{swiss_server}/m/{token()}?lang=de")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # the slip scales down to a phone's width
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "swiss-qr-bill-phone.png"), full_page=True)


@pytest.fixture
def merchant_server(shop, tmp_path):  # noqa: F811
    """The dashboard of the example shop after its final notices, on localhost (its cookie is Secure)."""
    from datetime import date

    from werkzeug.security import generate_password_hash

    from dunning import campaigns, sending
    from dunning.channels.outbox import OutboxChannel
    from dunning.web import create_app
    from tests.test_web import TODAY

    settings, store = shop
    sending.send(campaigns.load("final", settings), store, OutboxChannel(tmp_path / "outbox"), as_of=date(2026, 11, 20),
                 dry_run=False)
    env = {"DUNNING_SECRET_KEYS": KEY, "DUNNING_MERCHANT_PASSWORD_HASH": generate_password_hash("correct horse battery")}
    with served(create_app(settings, store=store, environ=env, today=lambda: TODAY), host="localhost") as url:
        yield url


def test_the_merchant_signs_in_and_reads_the_dashboard_on_a_laptop_and_a_phone(merchant_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, options in (("laptop", {"viewport": {"width": 1280, "height": 900}}),
                          ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2})):
        page = browser.new_page(**options)
        page.goto(f"{merchant_server}/merchant/")
        page.fill("#password", "not it")
        page.click("button[type=submit]")
        assert page.locator("#wrong").is_visible()
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        assert page.locator("h1#report").inner_text() == "Recovery report"
        assert page.locator(".card h2").all_inner_texts() == ["EUR", "GBP", "JPY"]
        assert page.locator("figure.chart svg").count() >= 4
        assert page.evaluate("document.documentElement.scrollWidth") <= options["viewport"]["width"]  # tables scroll inside
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
        page.close()


def test_the_report_file_fits_a_laptop_and_a_phone(shop, browser, tmp_path):  # noqa: F811
    from datetime import date

    from dunning import campaigns, report, report_html, sending
    from dunning.channels.outbox import OutboxChannel

    settings, store = shop
    sending.send(campaigns.load("final", settings), store, OutboxChannel(tmp_path / "outbox"), as_of=date(2026, 11, 20),
                 dry_run=False)
    path = tmp_path / "report.html"
    path.write_text(report_html.render(report.gather(store, date(2026, 11, 30)), "de", stage_labels=settings.stage_labels))
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(path.as_uri())
        assert page.locator("h1").inner_text() == "Bericht: eingegangene Zahlungen"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
        page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_campaign_preview_is_in_the_merchants_language_and_shows_each_message_whole(
        tmp_path, signing_key, monkeypatch, browser, width):
    from typer.testing import CliRunner

    from dunning.cli import app
    from tests.conftest import campaign_workspace

    workspace = campaign_workspace(tmp_path, "final", 'stage = "final"\n[input]\nfile = "../examples/plans.csv"\n'
                                   '[sender]\nfrom = "Beispiel GmbH <billing@shop.example>"\n')
    settings_file = workspace / "dunning.toml"
    settings_file.write_text(settings_file.read_text("utf-8").replace('fallback_language = "en"', 'fallback_language = "de"', 1),
                             "utf-8")
    monkeypatch.chdir(workspace)
    runner = CliRunner()
    prepared = runner.invoke(app, ["campaign", "prepare", "final", "--as-of", "2026-11-20"])
    assert prepared.exit_code == 0, prepared.output
    assert runner.invoke(app, ["campaign", "preview", "final"]).exit_code == 0
    page = browser.new_page(viewport={"width": width, "height": 900}, is_mobile=width < 500)
    page.goto((workspace / "exports" / "final-preview.html").as_uri())
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text().startswith("final: 7 Nachrichten, Stufe Letzte Mahnung")
    assert page.locator("dt").first.inner_text() == "An" and "Subject" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    frames = page.locator("iframe")
    assert frames.count() == 7
    for index, frame in enumerate(page.frames[1:]):
        frame.wait_for_load_state()
        shown = frames.nth(index).bounding_box()["height"]
        assert frame.evaluate("document.documentElement.scrollHeight") <= shown, index  # the footer is not cut
        assert frame.locator("body").inner_text().rstrip().endswith("Example Shop · billing@shop.example")  # its footer
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"campaign-preview-{width}.png"), full_page=True)
