"""What the built-in detectors look for: the PII and secret patterns, and the checks that
confirm a candidate (checksums, number plans, entropy). `safety.detectors` turns these tables
into detectors; the prompt-injection phrasings are in `safety.injection_rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex

from safety.checksums import DECIMAL_CONTEXT, card_ok, iban_ok, ssn_ok
from safety.gitleaks_rules import allowed_by_gitleaks, shannon_entropy
from safety.pii_checks import (
    EMAIL_CONTEXT,
    IPV4_CONTEXT,
    OCTET,
    PHONE_CONTEXT,
    PHONE_TAIL,
    VERSION_WORD,
    email_ok,
    ipv4_ok,
    ipv6_ok,
    phone_ok,
)
from safety.secret_values import (
    KEYWORD_NAME_WORDS,
    cli_password_ok,
    keyword_value,
    login_pair_value,
    no_x_run,
    not_placeholder,
    placeholder,
    prose_password_value,
    secret_value,
    wifi_password_value,
)

# Checksums come from python-stdnum (safety.checksums), number plans from libphonenumber and the
# rest of the contact and network checks from safety.pii_checks: the patterns only propose
# candidates.


# Chinese and Japanese put no space between words: in "卡号4111111111111111，" or "IP是10.0.12.5"
# the number stands right after an ideograph. The look-arounds that keep a match from starting or
# ending inside a word (a one-character class or \w) are made blind to these scripts. Written
# with ranges, not \p{Han}, so that the stdlib can still parse the patterns (safety.plain).
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff01-\uff0f"
_EDGE = regex.compile(r"\(\?<?!(?=\[|\\w\))")  # "(?<![", "(?![", "(?<!\w)", "(?!\w)"


def cjk_edges(pattern: str) -> str:
    """`pattern` with its word-edge look-arounds ignoring CJK characters."""
    return str(_EDGE.sub(lambda m: f"{m.group()}(?![{CJK}])", pattern))


PII: dict[str, tuple[str, str, Callable[..., bool] | None]] = {
    "email": (
        rf"(?<![\w.+/-])(?:[^\W_{CJK}]|[._%+-]){{1,64}}@[\p{{L}}\p{{N}}-]{{1,63}}"
        rf"(?:\.[\p{{L}}\p{{N}}-]{{1,63}}){{0,8}}\.(?:[^\W\d_{CJK}]{{2,24}}|[{CJK}]{{2,3}}"
        # not a git remote's scp-style host ("git@github.com:acme/infra.git")
        r"|xn--[a-z0-9-]{1,59})(?![\w-]|:[\w~/.-])",
        "[EMAIL]",
        email_ok,
    ),
    "phone": (  # candidates; phone_ok decides (libphonenumber)
        r"(?<![\w+./#-]|[\d:]:)(?:\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}"
        r"|(?:\(\d{2,5}\)[ .-]?|\d{2,5}[ .-])\d{2,8}(?:[ .-]\d{2,5}){0,3}|\d{6,15})"
        rf"(?: ?(?:x|ext\.?) ?\d{{1,5}})?(?:{PHONE_TAIL}|(?![\w:-]|\.\d))",
        "[PHONE]",
        phone_ok,
    ),
    "payment_card": (
        r"(?<![\w-])\d(?:(?:[ \t]{1,2}|[-.])?\d){11,18}(?![\w-]|\.\d)",
        "[CARD]",
        card_ok,
    ),
    "us_ssn": (r"(?<![\w-])\d{3}(?:-\d{2}-| \d{2} )\d{4}(?![\w-])", "[SSN]", ssn_ok),
    "iban": (
        r"(?<![a-z0-9])[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,4})?(?![a-z0-9])",
        "[IBAN]",
        iban_ok,
    ),
    # not CIDR (but a /32, one host), not a version string's part ("4.2.1.17.3"); a sentence's
    # full stop may follow
    "ipv4": (  # not after a version word ("release 4.2.1.17", "pkg==1.2.3.4"); ipv4_ok: no CIDR
        rf"(?<![\w.]|{VERSION_WORD}){OCTET}(?:\.{OCTET}){{3}}(?!\w|\.\w)",
        "[IP]",
        ipv4_ok,
    ),
    # also in brackets, as URLs and logs write it ("http://[2001:db8::1]:8080", "from
    # unknown[2003:e2::f088]"): ipv6_ok's three groups keep a slice ("s[::-1]") out
    "ipv6": (r"(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])", "[IP]", ipv6_ok),
}
PII = {k: (cjk_edges(p), label, v) for k, (p, label, v) in PII.items()}
# characters before and after a match that each validator reads (RegexDetector.context, .after)
PII_CONTEXT = {
    "phone": (PHONE_CONTEXT, 4),
    "ipv4": IPV4_CONTEXT,
    "payment_card": DECIMAL_CONTEXT,
    "email": EMAIL_CONTEXT,
}


def pem_ok(s: str) -> bool:
    """A private key block's header alone (its body may follow), or a whole block with a body
    of a key's size: gitleaks' rule asks 64 characters between the header and "KEY-----"
    (about 32 of base64), so an empty or one-word body is an example, not a key."""
    m = _PEM_BODY.search(s)
    return m is None or len("".join(m.group(1).split())) >= 32


_PEM_BODY = regex.compile(r"PRIVATE KEY(?: BLOCK)?-----(.*?)-----END", regex.S)


SECRET_CONTEXT = {"cli_password": 120}  # characters before a match its validator reads


_JWT = regex.compile(r"eyJ[A-Za-z0-9_=.-]*")


def jwt_ok(s: str) -> bool:
    """A signed token as it is; one without a signature (header.payload) only if it passes
    detect-secrets' JWT check (JwtTokenDetector.is_formally_valid: both parts decode to
    JSON), as two dotted eyJ... runs are weaker evidence than three."""
    from detect_secrets.plugins.jwt import JwtTokenDetector

    m = _JWT.search(s)
    token = m.group().rstrip(".") if m else ""
    return token.count(".") >= 2 or bool(JwtTokenDetector.is_formally_valid(token))


def _detect_secrets_patterns() -> dict[str, str]:
    """Credential shapes from detect-secrets' plugins (Yelp, maintained with the providers'
    formats), those whose pattern stands alone; plugins needing a keyword context, an entropy
    test or an unbounded line (npm's .npmrc) stay out, and ours cover AWS/GitHub/JWT/Stripe.
    Mailchimp's key begins with 32 lowercase letters or digits and Discord's with a capital
    M, N or O and 23 letters, so ordinary words could be the start of one: a streamed answer
    would be held word by word, so they flag streamed output (STREAM_FLAG_SECRETS)."""
    from detect_secrets.plugins import (
        azure_storage_key,
        discord,
        gitlab_token,
        mailchimp,
        openai,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        telegram_token,
        twilio,
    )  # fmt: skip

    plugins: dict[str, Any] = {
        "azure_storage_key": azure_storage_key.AzureStorageKeyDetector,
        "discord": discord.DiscordBotTokenDetector,
        "gitlab_token": gitlab_token.GitLabTokenDetector,
        "mailchimp": mailchimp.MailchimpDetector,
        "openai": openai.OpenAIDetector,
        "pypi_token": pypi_token.PypiTokenDetector,
        "sendgrid": sendgrid.SendGridDetector,
        "slack_webhook": slack.SlackDetector,
        "square_oauth": square_oauth.SquareOAuthDetector,
        "telegram_token": telegram_token.TelegramBotTokenDetector,
        "twilio": twilio.TwilioKeyDetector,
    }
    out = {}
    for name, plugin in plugins.items():
        pats = [p.pattern for p in plugin().denylist]
        for loose, tight in _WORD_END.get(name, ()):
            pats = [p.replace(loose, tight) for p in pats]
        start = r"(?<![\w-])" + _START.get(name, "")
        out[name] = f"(?:{start})(?:" + "|".join(f"(?:{p})" for p in pats) + r")(?![\w-])"
    return out


# Telegram's Bot API puts the token right after "/bot" in its URLs
# ("https://api.telegram.org/bot5413350213:AA.../getUpdates"), after a letter: the match then
# holds "bot" (a one-character look-behind, as the stream guard's plain check needs)
_START = {"telegram_token": r"|(?<=/)bot"}


# The plugins' patterns have no end anchor: Discord's matches the first 27 characters of a
# token's last part, which is 38 long in today's tokens. Ours end at a word's edge, so the
# part may run on to its end.
_WORD_END = {"discord": (("{27}", "{27,38}"),)}


DETECT_SECRETS = _detect_secrets_patterns()

# Unbounded repeats in a library's pattern, and the bound each gets here: a detector's match
# must have a bounded length (the stream guard holds at most that much while one forms).
_UNBOUNDED = ((r"(?: *)", r"(?: {0,8})"), (r"| +|", r"| {1,8}|"), (r"[\w\-]+", r"[\w\-]{1,100}"))


def bounded(pattern: str) -> str:
    """`pattern` with the unbounded repeats detect-secrets' assignment patterns use bounded;
    ValueError if one is left (a new library version: look before taking it)."""
    for loose, tight in _UNBOUNDED:
        pattern = pattern.replace(loose, tight)
    if regex.search(r"(?<!\\)[*+](?![^\[]*\])|\{\d+,\}", pattern):
        raise ValueError(f"an unbounded repeat is left in {pattern!r}")
    return pattern


def _keyword_plugin_patterns() -> dict[str, str]:
    """detect-secrets' plugins whose credential is only recognisable after its keyword
    (`softlayer_api_key = ...`, `ibm_cloud_iam_key: ...`, `cos_hmac_secret_access_key = ...`,
    `cloudant_password = ...` and Cloudant URLs): the match starts at the keyword, as our
    assigned_secret does, so ordinary words are not the start of one. Their patterns ignore
    case; the library's own flag is kept. Verification against the provider (the plugins'
    `verify`) needs the network and is not used."""
    from detect_secrets.plugins import cloudant, ibm_cloud_iam, ibm_cos_hmac, softlayer

    plugins: dict[str, Any] = {
        "softlayer": softlayer.SoftlayerDetector,
        "ibm_cloud_iam": ibm_cloud_iam.IbmCloudIamDetector,
        "ibm_cos_hmac": ibm_cos_hmac.IbmCosHmacDetector,
        "cloudant": cloudant.CloudantDetector,
    }
    out = {}
    for name, plugin in plugins.items():
        pats = [
            ("(?i:" if p.flags & regex.IGNORECASE else "(?:") + bounded(p.pattern) + ")"
            for p in plugin().denylist
        ]
        out[name] = "|".join(pats)
    return out


DETECT_SECRETS_KEYWORD = _keyword_plugin_patterns()

SECRETS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "private_key": (  # the whole block when its end is there, else the header
        r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s:,-]{0,8000}?"
        r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?",
        pem_ok,
    ),
    # (Slack and Stripe keys: gitleaks' rules, whose exact formats tell a key from a malformed
    # example; ours were looser and flagged its "wrong suffix" cases)
    "aws_access_key": (  # gitleaks' allowlist: AWS's documented "AKIAIOSFODNN7EXAMPLE"
        r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])",
        lambda s: no_x_run(s) and not allowed_by_gitleaks("aws-access-token", s),
    ),
    "github_token": (
        r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255})(?!\w)",
        no_x_run,
    ),
    "openai_key": (  # not "sk-ant-": an Anthropic key (gitleaks' rule knows its format)
        r"(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![\w-])",
        not_placeholder,
    ),
    # looser than gitleaks' rule (108 characters ending in AA): a truncated key is redacted too
    "anthropic_key": (r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,200}(?![\w-])", not_placeholder),
    # Tencent Cloud's SecretId (AKID and 32 letters or digits, the shape Chinese secret scanners
    # list; gitleaks and detect-secrets have no rule for it), with its SecretKey when the two
    # are written as the SDK's pair: credential.Credential("AKID...", "...")
    "tencent_secret_id": (
        r"(?<![A-Za-z0-9])AKID[0-9A-Za-z]{32}(?![A-Za-z0-9])"
        r"(?:[\"'],\s{0,3}[\"'][0-9A-Za-z]{32}(?=[\"']))?",
        not_placeholder,
    ),
    # a chat bot's webhook URL carries its key, as Slack's does: WeCom, DingTalk, Feishu/Lark
    # (from the "://" on, as url_password: a host name's first letter is any word's)
    "chat_webhook": (
        r"(?<![:/])://(?:qyapi\.weixin\.qq\.com/cgi-bin/webhook/send\?key=[0-9a-f-]{36}"
        r"|oapi\.dingtalk\.com/robot/send\?access_token=[0-9a-f]{64}"
        r"|open\.(?:feishu\.cn|larksuite\.com)/open-apis/bot/v2/hook/[0-9a-f-]{36}"
        # Discord's: the webhook's id and its token (gitleaks has no rule for the URL)
        r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[\w-]{60,68})",
        no_x_run,
    ),
    "google_api_key": (  # gitleaks' allowlist: the public example keys of Google's docs
        r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])",
        lambda s: not_placeholder(s) and not allowed_by_gitleaks("gcp-api-key", s),
    ),
    "jwt": (  # the signature may be left off (an unsecured JWT, as detect-secrets finds)
        r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,1000}={0,2}\.eyJ[A-Za-z0-9_-]{8,1000}={0,2}"
        r"(?:\.[A-Za-z0-9_-]{8,1000}={0,2})?(?![\w-])",
        jwt_ok,
    ),
    "assigned_secret": (  # NAME = value, NAME: value, requirepass value; secret_value decides
        # the keyword may end a longer name (DB_PASSWORD, aws_secret_access_key; "pass", "token"
        # after "_": SMTP_PASS, HF_TOKEN): the match starts at the keyword, so ordinary
        # words never look like the start of one
        r"(?i)(?<![a-z0-9-])(?:(?:api[_-]?key|secret[_-]?(?:access[_-]?)?key|access[_-]?token"
        r"|auth[_-]?token|token|password|passwd|pwd|(?<=_)pass|client[_-]?secret|psk"
        r"|pre[_-]?shared[_-]?key)"
        # (on its own line: "DB_PASSWORD=" left empty does not take the next line for its value)
        r"[\"']?[ \t]{0,3}[:=]"
        # PHP's define('DB_PASS', 'value') (WordPress' wp-config.php), led by its literal
        r"|requirepass\s|define\([ \t]{0,3}[\"'][a-z0-9_]{0,30}(?:pass|pwd|secret|token|key)"
        r"[a-z0-9_]{0,20}[\"'][ \t]{0,3},)[ \t]{0,3}[\"']?[^\s\"']{8,200}",
        secret_value,
    ),
    # a password or key written in prose or notes after its word, in the five languages
    # ("Passwort mqMyN_stvk&#VCqtA", "contraseña de administración: 9Fq7Kx2Rz4wL",
    # "密码 Kh7#qLz92!vTm", "AppSecret 是 c3e2ca8f…"): the word and what follows on its line;
    # prose_password_value finds the password in it
    "prose_password": (
        # (German compounds end in "passwort": Erstpasswort, Adminpasswort)
        r"(?i)(?:(?<![a-z])(?:passwor[dt]|kennwort|contrase[ñn]a|clave|mot\s{1,2}de\s{1,2}passe|mdp"
        r"|密码|口令|密钥|秘钥|appsecret|secret\s?key)|(?<=[a-zäöü])passwort)"
        r"[^\n]{1,100}",
        None,
    ),
    # a Wi-Fi network's password in a note for guests or flatmates, after the network's name
    # ("WiFi network is MapleCottage_5G, password bluejay-harbor-1987", "WLAN: FRITZ!Box 7530,
    # Schlüssel: …", "Wi-Fi : Livebox-4F2A, clé WPA : …", "WiFi：名称 …，密码 …"): the line from the
    # Wi-Fi word on; wifi_password_value finds the password after its word
    "wifi_password": (
        r"(?i)(?<![a-z])(?:wlan|wi-?fi|wpa2?|ssid|livebox|freebox|bbox|fritz!?box|无线网?)"
        r"[^\n]{1,120}(?:\n[^\n]{1,120}){0,2}",  # the network's line and the two after it
        None,
    ),
    # an administrator's login written as "user / password" in notes and chats ("admin /
    # Fritz!Box2019", "root / Cigale#2023!Azur"); login_pair_value judges the password
    "login_pair": (r"(?i)(?<![\w@.-])(?:admin(?:istrator)?|root)\s{1,3}/\s{1,3}\S{6,64}", None),
    # a password on a command line: the MySQL/MariaDB clients' -p<password> (no space: "mysql -u
    # root -p'Qw3rty!zh2025' shop"), sshpass -p, lftp -u user,pw, curl -u user:pw, redis-cli -a;
    # no library lists these options, and cli_password_ok reads the command before the option
    "cli_password": (
        r"(?<=\s)(?:-[pa]\s?|-u\s{1,3}[^\s,:'\"]{1,64}[,:])"
        r"(?:'[^'\n]{4,100}'|\"[^\"\n]{4,100}\"|[^\s'\"-]\S{3,100})",
        cli_password_ok,
    ),
    "url_password": (  # ://user:password@host (detect-secrets' BasicAuthDetector shape)
        # from the "://" on: a pattern that begins with the scheme could begin at any word and
        # would hold every streamed word; the span is the credentials and host. The user may be
        # empty (redis://:pw@host) and the password may hold any character but "/", "@", quotes
        # and space: people paste raw passwords ("Tq8!vR2m#Lp4e"), not percent-encoded ones
        r"(?<![:/])://[^:/?#\[\]@\s]{0,100}:[^/@\s\"'`]{3,200}"
        r"@[^\s/?#@]{1,255}",
        lambda s: not placeholder(s[3:].split("@")[0].split(":", 1)[1]),
    ),
    **{f"ds_{k}": (p, no_x_run) for k, p in DETECT_SECRETS.items()},
    # gitleaks' entropy floor for GitLab's tokens (3 bits per character in each of its gitlab-*
    # rules), which detect-secrets' plugin does not have: "GR1348941" and 20 digits "123123..."
    "ds_gitlab_token": (
        DETECT_SECRETS["gitlab_token"],
        lambda s: no_x_run(s) and shannon_entropy(s) > 3.0,
    ),
    # a line (in pieces of 500) that names a password, secret or key: keyword_value finds the
    # value in it (KEYWORD_LINE: its own keywords, span and stream treatment)
    "ds_keyword": (r"[^\n]{1,500}", None),
    **{f"ds_{k}": (p, None) for k, p in DETECT_SECRETS_KEYWORD.items()},
}
SECRETS = {k: (p if k.startswith("ds_") else cjk_edges(p), v) for k, (p, v) in SECRETS.items()}
# detect-secrets' keyword plugins' patterns, written for the standard `re` module, which finds
# their matches three times faster than `regex` (on 2,000 characters of prose 0.31 vs 0.73 ms)
STD_RE_SECRETS = frozenset({*(f"ds_{k}" for k in DETECT_SECRETS_KEYWORD), "ds_keyword"})
STREAM_FLAG_SECRETS = frozenset(
    {"ds_discord", "ds_mailchimp", "ds_keyword", "prose_password", "login_pair", "wifi_password"}
)
# ds_keyword runs only on text with one of these (scan.Group's keyword prefilter; every name of
# detect-secrets' list contains one), reports the value keyword_value finds, and flags streamed
# output, since a line would be held to its end. Standard `re`, like the plugin.
KEYWORD_LINE = KEYWORD_NAME_WORDS
# detectors that read a stretch of text and report the credential inside it, with the words one
# of which every match holds (scan.Group's keyword prefilter) and the function that finds it.
# One of prose_password's begins each match ("mot de passe", "AppSecret")
_PROSE_WORDS = ("passwor", "kennwort", "contrase", "clave", "mot", "mdp", "密码", "口令", "密钥",
                "秘钥", "appsecret", "secret")  # fmt: skip
LOCATED_SECRETS: dict[str, tuple[tuple[str, ...], Callable[[str], tuple[int, int] | None]]] = {
    "ds_keyword": (KEYWORD_LINE, keyword_value),
    "prose_password": (_PROSE_WORDS, prose_password_value),
    "login_pair": (("admin", "root"), login_pair_value),
    "wifi_password": (
        ("wlan", "wifi", "wi-fi", "wpa", "ssid", "livebox", "freebox", "bbox", "fritz", "无线"),
        wifi_password_value,
    ),
}
# Every match of a keyword plugin has a value of 24 to 64 letters, digits, "_" or "-" (64 hex,
# 24 letters, 44 characters, 48 hex). Their patterns try every position of the text, so they
# run only on text with such a run (RegexDetector.needs): on 2,000 characters of prose without
# one they cost 0.54 ms of the input check's 2.5; the search costs 0.02.
SECRET_NEEDS = r"[A-Za-z0-9_\-]{24}"
# An IBAN begins with two letters and two digits: the pattern, tried at every letter of the
# folded text, costs 0.18 ms on 2,000 characters of English prose; this search 0.01.
PII_NEEDS = {"iban": r"[a-z]{2}\d\d"}
# Words one of which begins every match of these: each is tried only where one begins (scan.Group,
# RegexDetector.leads): assigned_secret's case-blind search of 2,000 characters cost 0.13 ms.
_ASSIGNED = ("api", "secret", "access", "auth", "token", "client", "pass", "pwd", "requirepass",
             "psk", "preshared", "pre-shared", "pre_shared", "define")  # fmt: skip
SECRET_KEYWORDS = {"assigned_secret": _ASSIGNED}
LEADING_SECRETS = frozenset(
    {"assigned_secret", "prose_password", "login_pair", "wifi_password"}
)  # their words lead (above)
CHECKSUMMED = ("payment_card", "iban")  # a number followed by more digits or a word
