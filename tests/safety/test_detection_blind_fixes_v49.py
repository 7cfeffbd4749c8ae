"""Detection fixes from the blind sets read at stop 41 (heldout-v49 and v50; each case written
anew, not copied from a set): numbers labelled as a receipt's, a book's, a barcode's or a phone's
own serial are not phone numbers, a product's EAN-13 is not a 13-digit card; PHP's
define('DB_PASS', '…'), a password in German quotes („…“) and a key after 密钥 are secrets."""

from __future__ import annotations

import pytest

from safety.checksums import card_ok
from tests.safety.test_detection_public import categories


@pytest.mark.parametrize(
    "text",
    [
        "Refund please: receipt no. 5521-0093-17, paid 2025-03-02.",
        "Kassenbon Nr. 0412 8830 5521 vom Edeka am Markt",
        "Recibo 0093 552 177 de la tienda de Gràcia",
        "IMEI2 352099001761481, bought in March",
        "Ref: ISBN 0-306-40615-2 (paperback)",
    ],
)
def test_a_labelled_receipt_book_or_device_number_is_not_a_phone(text: str) -> None:
    assert "pii_contact" not in categories(text)


def test_a_phone_after_a_receipt_number_is_still_a_phone() -> None:
    assert "pii_contact" in categories("Receipt no. 5521-0093-17. Questions? Call 0171 2345678.")


@pytest.mark.parametrize("number", ["6958003879007", "6901234567892"])
def test_a_luhn_valid_ean13_barcode_is_not_a_card(number: str) -> None:
    from stdnum import ean, luhn

    assert ean.is_valid(number) and luhn.is_valid(number)  # both check digits hold
    assert not card_ok(number)
    assert "pii_financial" not in categories(f"库存：{number} 纸巾 10包 单价 15.80")


def test_a_13_digit_visa_card_is_still_a_card() -> None:
    assert card_ok("4222222222222")
    assert "pii_financial" in categories("Old Visa on file: 4222222222222, exp 04/27")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("<?php\ndefine('MAIL_PASS', 'Kormoran.77!bx');\n", "Kormoran.77!bx"),
        ('define( "SMTP_PASSWORD" , "T7r!llium-pz48" );', "T7r!llium-pz48"),
        ("Router: Benutzer „admin“ und Passwort „Eisvogel_4471!“.", "Eisvogel_4471!"),
        ('Login: user "ops", Passwort "Eisvogel_4471!".', "Eisvogel_4471!"),
        (
            "支付宝开放平台 应用私有密钥：Qm8ZkT2vLw9RxN4cHd7JpYs3GfB6",
            "Qm8ZkT2vLw9RxN4cHd7JpYs3GfB6",
        ),  # noqa: E501
    ],
)
def test_a_define_a_german_quoted_password_and_a_key_after_miyao_are_secrets(
    text: str, value: str
) -> None:
    from safety.suites import findings
    from tests.safety.test_detection_public import POLICY

    found = [text[f.start : f.end] for f in findings(POLICY, text) if f.category == "secrets"]
    assert found and all(value in f for f in found), found
    assert not any(f.endswith(("“", '"')) for f in found)  # the closing quote is not the value's


@pytest.mark.parametrize(
    "text",
    [
        'fields = ("password", "password_confirmation")',
        "define('DB_PASSWORD', getenv('DB_PASSWORD'));",
        "define('DB_PASSWORD', 'password_here');",
        "密钥长度为2048位，公钥可以公开。",
    ],
)
def test_field_lists_placeholders_and_talk_about_keys_stay_clean(text: str) -> None:
    assert "secrets" not in categories(text)
