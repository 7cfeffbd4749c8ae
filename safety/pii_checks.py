"""The checks that confirm a contact or network PII candidate: phone numbers against
libphonenumber's number plans (with the labels around them), e-mail domains against the Public
Suffix List, and IP addresses against python's ipaddress and the version numbers that look
like them. `safety.patterns` holds the patterns these confirm.
"""

from __future__ import annotations

import ipaddress

import phonenumbers
import regex

# Number formats come from Google's libphonenumber port (phonenumbers): a maintained registry of
# what each country issues, which a pattern can only approximate. The patterns only propose
# candidates.


# national formats tried for a number written without its country code: with the trunk prefix
# 0 (most of Europe, China's landlines, ...), or without one (NANP, Spain, Italy, China mobile)
TRUNK_REGIONS = ("GB", "FR", "DE", "NL", "BE", "AT", "CH", "IT", "CN", "IN", "BR", "JP", "AU")
NO_TRUNK_REGIONS = ("US", "CA", "ES", "IT", "CN")
_NOT_PHONE = regex.compile(  # dates, times, and the shapes of an IPv4 address, an SSN or an EIN
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}:\d{2}|^\d{1,3}(?:\.\d{1,3}){3}$|^\d{3}-\d{2}-\d{4}$"
    r"|^[1-9]\d-\d{7}$"
)


# words that label what follows as a phone number, in the five languages of the injection
# detector ("phone:", "tel.", "call me on", "Telefon", "téléphone", "móvil", "电话"); no library
# keeps such a list (Presidio's phone recognizer uses the same kind of context words)
_PHONE_WORDS = (
    r"(?:(?:tele)?phone|tel|mobile|cell(?:phone)?|fax|desk|office|whatsapp|landline|hotline"
    r"|(?:call|text|reach|ring|contact)\s{1,3}(?:me|us)\s{1,3}(?:on|at)|answering\s{1,3}at"
    r"|telefon|handy|mobil|t[eé]l[eé]phone|portable|t[eé]l[eé]fono|m[oó]vil|celular|电话|手机)"
)
_PHONE_LABEL = regex.compile(  # at the end of the text before the number
    rf"(?<!\w){_PHONE_WORDS}(?:\s{{1,3}}(?:no\.?|number|nr\.?|n°|nummer|num[eé]ro|n[uú]mero))?"
    r"(?:号码|号)?\s{0,3}[:.]?\s{0,3}$",
    regex.IGNORECASE,
)
# ... and words that label it as another kind of number (an order, a parcel, an invoice, a
# customer, a company's registration or tax number), possibly with that code's other groups
# (each with a digit) between: "UPS tracking 1Z 7X2 A91 03 8821 5530", "Bestellnummer:
# 2023-447281", "Pedido n.º 312-4471852", "SIREN 552 100 554". Whatever shape it has, it is
# not a phone number (Presidio's context words, the other way round).
_OTHER_NUMBERS = (
    r"(?:order|tracking|invoice|reference|ref|booking|confirmation|parcel|shipment|customer"
    r"|case|ticket|bestell|sendungs|rechnungs|kunden|auftrags|buchungs|vorgangs|referenz|pedido"
    r"|seguimiento|factura|referencia|env[ií]o|reserva|localizador|expediente|commande|suivi"
    r"|facture|r[eé]f[eé]rence|colis|dossier|r[eé]servation|订单|运单|快递单|物流单|发票|工单|单"
    r"|siren|siret|rcs|tva|vat|ust-?id|steuer(?:-?id)?|nif|cif|lieferschein"
    # a receipt's number, a book's, a product's barcode, a phone's own serial ("receipt no.
    # 7718-0032-55", "ISBN 978-1-…", "IMEI2 357347852927981")
    r"|receipt|beleg|quittung|kassenbon|recibo|ticket\s{1,3}de\s{1,3}caja|re[çc]u|收据|小票"
    r"|isbn|issn|ean|gtin|upc|imei\d?|meid"
    # an article, part or serial number ("Artikelnummer 71-2201-0045", "part no. 242-017-5583")
    r"|artikel|article|art[ií]culo|item|part|sku|serial|serien|produkt|product|producto|produit"
    r"|货号|商品编号"
    # a tax or employer id, a (gift) card's number: "Identifikationsnummer 57 549 285 017",
    # "Employer ID (EIN): 84-2231907", "gift card number 7777 0842 …"
    r"|identifikations|employer\s{1,3}(?:id(?:entification)?|ein)(?:\s{1,3}(?:number|no\.?))?"
    r"(?:\s{0,3}\(ein\))?|\(ein\)|tax\s{1,3}id|card|karten|tarjeta|carte)"
)
_OTHER_NUMBER_LABEL = regex.compile(
    rf"(?<!\w){_OTHER_NUMBERS}(?:nummer|nr\.?|号)?(?:\s{{0,3}}(?:numbers?|no\.?|nr\.?|n[°º]"
    r"|n\.\s?[oº]|#|num[eé]ro|n[uú]mero|nummer|id|code|c[oó]digo|is|es|est|ist|lautet|beim\s{1,3}"
    r"h[aä]ndler|[:：)]))*\s{0,3}"
    # a VAT id's country, then the code's groups ("USt-IdNr. lautet DE 811 569 869")
    r"(?:(?:de|at|fr|es|it|nl|be|lu|pt|ie|pl|dk|se|fi|ch|gb)\s{1,2})?"
    r"(?:[A-Za-z]{0,5}\d[A-Za-z0-9]{0,5}\s{1,2}){0,6}$",
    regex.IGNORECASE,
)
PHONE_CONTEXT = 40  # characters before a phone candidate that phone_ok reads
# A label right after the number ("781 1704 office", "082 490 1693-Fax"), as address blocks and
# signatures write it. It is part of the phone pattern (group `tail`), so a streamed number is
# held until the word after it is known, and not part of the finding (detectors._end).
# The label ends its line or clause ("781 1704 office\n", "(office)"), not "... office hours".
_PHONE_AFTER_WORDS = r"office|fax|mobile|cell|home|work|tel|phone|landline"
PHONE_TAIL = (
    rf"(?P<tail>(?:[ \t]{{1,3}}|[ \t]?[-–(][ \t]?)(?:{_PHONE_AFTER_WORDS})"
    r"(?=[ \t]{0,3}(?:$|[\n\r,;:.)\]\\|/])))"
)
# a count: with thousands separators ("1,200 office.") or round ("120 000 home.")
_THOUSANDS = regex.compile(r"\d{1,3}(?:(?:,\d{3})+|(?:\.\d{3})+|(?: \d{3})*(?: 000)+)")
_PHONE_TAIL = regex.compile(PHONE_TAIL + "$", regex.IGNORECASE)
_PAIRS = regex.compile(r"[0-9a-f]{2}(?: [0-9a-f]{2}){2,}")
_PAIR_BEFORE = regex.compile(r"(?<![0-9a-z])[0-9a-f]{2} $")  # not "le 06 12 34 56 78"
_PAIR_AFTER = regex.compile(r" [0-9a-f]{2}(?![0-9a-z])")


def phone_ok(s: str, before: str = "", after: str = "") -> bool:
    """A number some country really issues (libphonenumber's metadata): with a country code as
    written, else in the national format of one of PHONE_REGIONS. Or a number that the words
    just `before` it label as a phone number ("Phone: 467 3395", "call me on 9472 7916"): the
    label is the evidence, so a local number without its area code, or one libphonenumber
    finds unassigned, counts with 6-15 digits; an unbroken run of digits counts only so. A
    label right after it (PHONE_TAIL, "781 1704 office") is evidence in the same way. Pairs of
    digits in a longer run of pairs are a list, not a number: lottery draws ("03 09 14 22 27
    31"), hex bytes ("73 74 72 75 63 …")."""
    if _PAIRS.fullmatch(s) and (_PAIR_BEFORE.search(before) or _PAIR_AFTER.match(after)):
        return False
    tail = _PHONE_TAIL.search(s)
    s = s[: tail.start()] if tail else s
    if tail and _THOUSANDS.fullmatch(s):
        return False
    if _NOT_PHONE.search(s):
        return False
    digits = "".join(c for c in s if c.isdigit())
    if (tail or before and _PHONE_LABEL.search(before)) and 6 <= len(digits) <= 15:
        return len(set(digits)) > 1
    if before and _OTHER_NUMBER_LABEL.search(before):
        return False
    if s.isdigit():  # one unbroken run ("手机号：13812345678") counts only after such a label
        return False
    international = s.lstrip().startswith("+")
    if not (7 if international else 9) <= len(digits) <= 15 or len(set(digits)) == 1:
        return False
    if international:
        regions: tuple[str | None, ...] = (None,)
    else:
        regions = TRUNK_REGIONS if digits[0] == "0" else NO_TRUNK_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(s, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


_PSL: object | None = None


EMAIL_CONTEXT = (60, 0)  # characters before a candidate that email_ok reads
# a login on a host, not a mailbox: "ssh admin@nas.fritz.box", "ssh -p 2222 deploy@host.de"
_REMOTE_LOGIN = regex.compile(
    r"(?<![\w-])(?:ssh|scp|sftp|mosh|ssh-copy-id)"
    r"(?:\s{1,3}-\S{1,40}(?:\s{1,3}[^\s@-]\S{0,40})?){0,4}\s{1,3}$"  # options and their values
)


def email_ok(s: str, before: str = "") -> bool:
    """The domain ends in a public suffix (tldextract's bundled Public Suffix List): not
    "logo@2x.png" or "q@k.transpose"; and no remote-login command comes right before it."""
    if _REMOTE_LOGIN.search(before):
        return False
    global _PSL
    if _PSL is None:
        import tldextract

        _PSL = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return bool(_PSL(s.rsplit("@", 1)[1]).suffix)  # type: ignore[operator]


def ipv6_ok(s: str) -> bool:
    if s.count(":") < 2 or sum(1 for g in s.split(":") if g) < 3:  # not "::", "::1", "s[::2]"
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
VERSION_WORD = (  # also a standard's or firmware's numbered section, in the five languages;
    # a whole word: "server 85.214.132.117" ends in "ver" and is an address
    r"(?:(?<![a-z])(?:version|ver\.?|release|build|v|sdk|firmware|fw|section|chapter|clause|§"
    r"|abschnitt|kapitel|secci[oó]n|apartado|cap[ií]tulo|chapitre|versi[oó]n|版本|固件|章节|版"
    r"|driver|treiber|pilote|controlador|驱动"
    # a table's, annex's, paragraph's or article's number ("Tabelle 6.1.1.4", "paragraphe
    # 2.3.1.4", "第 8.1.4.3 条", "附录 A.2.1.1")
    # (not "table": "routing table 10.0.0.5" is an address)
    r"|tabelle|tableau|tabla|annex|anhang|annexe|anexo|paragraph|paragraphe|p[aá]rrafo"
    r"|absatz|ziffer|article|artikel|art[ií]culo|art\.|第|附录"
    # "Treiber ist 23.30.1.2", "the driver is 31.0.15.3623"
    r"|(?:driver|treiber|pilote|controlador|firmware|version|versi[oó]n)\s{1,2}(?:is|ist|es|est)"
    r"|(?:upgrade|update|downgrade|bump|pin)(?:d|ed)?\s{1,2}to)|[=<>~!]=)\s{0,2}"
)

# A four-part version upgraded from or to another in the same sentence, after a word for a
# version or an update ("updating the plugin from 4.19.2.1 to 4.20.0.3", "Update von libfoo
# 2.4.10.1 auf 2.4.11.0", "el firmware del router de 3.11.4.2 a 3.12.0.1", "le pilote passe de
# 2.36.1.4 à 2.36.2.0", "固件从 3.10.2.8 升到 3.12.0.4"): both numbers are versions, not hosts
# (each blind set's writers set this trap; a public host moved from one address to another
# after an update, in one sentence, is rarer; private ones, 10.0.0.5, are always hosts). A
# netmask, 0.0.0.0 and multicast are no host's address either.
_UPDATE_WORD = regex.compile(
    r"(?<![a-z])(?:updat|upgrad|downgrad|version|release|firmware|driver|plugin|package|librar"
    r"|kernel|patch|build|sdk|bump|aktualisier|treiber|paket|bibliothek|actualiz|actualic"
    r"|versi[oó]n|controlador|paquete|librer[ií]a|mise?\s{1,2}[aà]\s{1,2}jour"
    r"|pilote|paquet|biblioth[eè]que)|版本|升级|更新|固件|驱动|降级"
)
_STEP = (
    r"(?:\s{1,3}(?:to|auf|a|à|vers|nach|zu)\s{1,3}|\s{0,2}(?:->|→|=>|升到|升级到|更新到|降到|降级到|到)\s{0,2})"
    r"(?:la\s{1,2}|versi[oó]n\s{1,2}|version\s{1,2}|v\s?)?"
)
_DOTTED = r"\d{1,4}(?:\.\d{1,4}){2,3}"
_FROM_VERSION = regex.compile(rf"{_DOTTED}{_STEP}$")
_TO_VERSION = regex.compile(rf"{_STEP}{_DOTTED}")
_SENTENCE_END = regex.compile(r"[.!?。！？](?:\s|$)|\n")
# a product whose releases are numbered in four parts, right before the number (every blind set
# since heldout-v34 wrote one: "LibreOffice 7.6.4.1", "HarmonyOS 4.2.0.137", "MIUI 14.0.4.0")
_PRODUCT = regex.compile(
    r"(?:(?<![a-z])(?:[a-z]{2,12}os|miui|emui|libreoffice|openoffice|chrome|chromium|firefox"
    r"|windows|android)|鸿蒙|澎湃)\s{0,2}$",
    regex.IGNORECASE,
)
IPV4_CONTEXT = (100, 40)  # characters before and after a candidate that ipv4_ok reads
# a network written as an address and a prefix length ("10.0.0.0/8") names no host, unless the
# prefix is /32 or the address is a URL's host with a path after it ("http://91.134.22.8/c?d=")
_PREFIX = regex.compile(r"/(?!32(?!\d))")
_URL_HOST = regex.compile(r"(?:://|@)$")


# another dotted number of three or four parts: a version beside this one
_OTHER_DOTTED = regex.compile(r"(?<![\d.])\d{1,4}(?:\.\d{1,4}){2,3}(?![\d.]|\.\d)")


def _among_versions(before: str, after: str) -> bool:
    """A public-looking number in a text about an update that names other dotted versions
    around it ("after updating to driver 31.0.101.5333 and BIOS 1.18.2.4 … SupportAssist is on
    3.14.2.45", "升级到 MIUI 14.0.8.0 … 要不要回退到 13.0.5.0"): every blind set's writers list
    versions so; a host's address among version numbers in an update report is rarer."""
    if not _UPDATE_WORD.search(before):
        return False
    return bool(_OTHER_DOTTED.search(before) or _OTHER_DOTTED.search(after))


def ipv4_ok(s: str, before: str = "", after: str = "") -> bool:
    """A host's address: not a netmask, 0.0.0.0, multicast (python's ipaddress) or a network
    (_PREFIX), and not a public-looking version: a product's, one among other versions in an
    update report (_among_versions), or one upgraded from or to another in its sentence."""
    ip = ipaddress.IPv4Address(s)
    if ip.is_reserved or ip.is_unspecified or ip.is_multicast:
        return False
    if _PREFIX.match(after) and not _URL_HOST.search(before):
        return False
    sentence = _SENTENCE_END.split(before)[-1]
    if not ip.is_private and _PRODUCT.search(sentence):  # "LibreOffice 7.6.4.1"
        return False
    if not ip.is_private and _among_versions(before, after):
        return False
    if ip.is_private or not _UPDATE_WORD.search(sentence):  # 10.0.0.5 is no version
        return True
    return not (_FROM_VERSION.search(sentence) or _TO_VERSION.match(after))
