"""Checksummed numbers: payment cards (Luhn, issuer lengths), IBANs and US SSNs, checked with
python-stdnum, a maintained registry of the formats and check digits each issuer uses; the few
hand rules below are what it keeps no table of (issuers' prefixes and lengths), each saying why.
"""

from __future__ import annotations

import regex
from stdnum import ean, iban, isbn, luhn
from stdnum.fr import siret
from stdnum.us import ssn as us_ssn


def luhn_ok(s: str) -> bool:
    digits = "".join(c for c in s if c.isdigit())
    if not 12 <= len(digits) <= 19 or digits[0] == "0" or len(set(digits)) == 1:
        return False  # no issuer number starts with 0; all-same digits are placeholders
    if len(digits) == 12 and not MAESTRO.match(digits):
        return False  # only Maestro issues 12-digit cards
    if len(digits) == 13 and digits[0] != "4" and ean.is_valid(digits):
        return False  # Visa's 13-digit cards begin with 4; else a product's EAN-13 barcode
    if len(digits) == 14 and not DINERS.match(digits):
        return False  # only Diners Club issues 14-digit cards ("73282932000074" is a SIRET)
    if len(digits) == 15 and not FIFTEEN.match(digits):
        return False  # a phone's IMEI is 15 Luhn-valid digits too ("354494664763957")
    if digits[0] == "1" and len(digits) != 15:
        return False  # only UATP's cards begin with 1 (a 19-digit snowflake id is not one)
    if _SIRET_SHAPE.fullmatch(s) and siret.is_valid(digits):
        return False  # a French company's SIRET, grouped as INSEE prints it (Luhn-valid too)
    return bool(luhn.is_valid(digits))


_SIRET_SHAPE = regex.compile(r"\d{3}([ .])\d{3}\1\d{3}\1\d{5}")  # no card is grouped 3-3-3-5


# Maestro's issuer prefixes (50, 56-69; ISO/IEC 7812 gives it 12-19 digits). A hand rule: python-
# stdnum checks Luhn but keeps no issuer table, and the packages that do are unmaintained.
MAESTRO = regex.compile(r"5[06-9]|6")
# Diners Club's (30, 36, 38, 39), the one network that issues 14-digit cards (ISO/IEC 7812)
DINERS = regex.compile(r"3[0689]")
# the networks that issue 15-digit cards: American Express (34, 37), UATP (1), and JCB's and
# enRoute's old ranges (1800, 2131, 2014, 2149)
FIFTEEN = regex.compile(r"3[47]|1|2131|2014|2149")


def iban_ok(s: str) -> bool:
    compact = s.replace(" ", "").upper()
    if compact[2:4] in ("00", "01", "99"):  # never-issued check digits
        return False
    # the ISO 13616 checksum, country, length and BBAN format; not the national check digits
    # inside the account part (Spain's, Belgium's): a mistyped or made-up account number with
    # a valid IBAN checksum is still someone's bank details to redact
    return bool(iban.is_valid(compact, check_country=False))


def ssn_ok(s: str) -> bool:
    return bool(us_ssn.is_valid(s.replace(" ", "-")))


# A decimal number is not a card: "2.718281828459045" (one point after the units), or the
# fraction digits of a constant, "1,6180339887498948" (after one digit and a decimal point or
# comma; "3796,377757222102261" is a CSV row's next field). A card grouped with points has three
# of them ("4464.9089.8940.6835").
_DECIMAL = regex.compile(r"\d{1,4}\.\d+")
_AFTER_DECIMAL = regex.compile(r"(?<![\d.,])\d[.,]$")
DECIMAL_CONTEXT = (3, 0)  # characters before a card candidate that card_ok reads
_GROUPS = regex.compile(r"[ \t.-]+")


def card_ok(s: str, before: str = "") -> bool:
    """A payment card number: not a decimal number or its fraction, not a book's ISBN-13
    ("978-2-07-378883-2": no network issues 978/979 cards), and luhn_ok."""
    if _DECIMAL.fullmatch(s) or _AFTER_DECIMAL.search(before):
        return False
    if "." in s and any(len(g) == 2 for g in _GROUPS.split(s)):
        return False  # no card is grouped in twos: "47.98.126.53 6379" is an address and port
    digits = "".join(c for c in s if c.isdigit())
    if len(digits) == 13 and digits[:3] in ("978", "979") and isbn.is_valid(digits):
        return False
    return _card_groups(s) and luhn_ok(s)


def _card_groups(s: str) -> bool:
    """Written in one run, in fours (the last group 1-4), as Amex and Diners print theirs
    (4-6-5, 4-6-4), or as the issuer's six-digit number and the rest ("622848 7820997513944"):
    a case number "2024-118-4471-09" is grouped as no card is."""
    sizes = [len(g) for g in _GROUPS.split(s.strip()) if g]
    if len(sizes) == 1 or sizes in ([4, 6, 5], [4, 6, 4]) or (len(sizes) == 2 and sizes[0] == 6):
        return True
    return all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4
