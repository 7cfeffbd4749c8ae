"""Detection fixes from the blind sets read at stop 34 (heldout-v18 and heldout-v19; each case
written anew, not copied from a set)."""

from __future__ import annotations

import pytest

from safety.checksums import card_ok, luhn_ok
from tests.safety.test_detection_public import categories

CARD = "5274689033124577"  # Luhn-valid, Mastercard's prefix


@pytest.mark.parametrize(
    "text",
    [
        f"Mit x ≈ {CARD[0]}.{CARD[1:]} komme ich nicht auf das Ergebnis.",  # one point: a decimal
        f"La constante vale 0,{CARD} según el libro.",  # the fraction digits of one
        f"Le rapport est de 3.{CARD} environ.",
    ],  # fmt: skip
)
def test_a_decimal_number_is_not_a_card(text: str) -> None:
    assert luhn_ok(CARD) and "pii_financial" not in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        f"Karte {CARD[:4]}.{CARD[4:8]}.{CARD[8:12]}.{CARD[12:]} gültig bis 09/28",
        f"id,amount,card\n3796,{CARD}\n",  # a CSV row's next field, not a fraction
        f"card: {CARD}",
    ],  # fmt: skip
)
def test_a_card_after_a_field_separator_or_grouped_by_points_is_still_a_card(text: str) -> None:
    assert "pii_financial" in categories(text)


def test_card_ok_reads_the_two_characters_before_a_candidate() -> None:
    assert card_ok(CARD, "= ") and card_ok(CARD, "37,") and not card_ok(CARD, " 1,")
    assert not card_ok(f"2.{CARD[1:]}") and card_ok(f"{CARD[:4]} {CARD[4:8]} {CARD[8:]}")
