"""When a candidate is a credential: not a placeholder ("sk-XXXX", "your_key", "insert_key_here"),
not a reference to another variable (settings.DB_PASSWORD, os.environ[...]), and random-looking;
and where the value is in a line that names a password (detect-secrets' keyword patterns, a
password written in notes). `safety.patterns` uses these as the secrets' validators.
"""

from __future__ import annotations

import itertools
import re

import regex

from safety.gitleaks_rules import shannon_entropy

_PLACEHOLDER = regex.compile(
    r"^(?:x{4,}|\*{3,}|<[^>]*>?|\$\{?\w+\}?|%\(?\w+\)?s?|\{\{?[^}]*\}?\}?|!?change[_-]?me!?"
    r"|password|"
    # the word "password" in the other languages, as a stand-in value ("utilisateur:motdepasse")
    r"passwort|kennwort|mot[_-]?de[_-]?passe|contrase[ñn]a|密码|"
    # "your key" in the five languages ("your-api-key", "DEIN-API-SCHLÜSSEL-HIER",
    # "VOTRE_MOT_DE_PASSE", "tu_clave", "你的API密钥")
    r"your[_-]?[\w-]+|(?:dein|deine|ihr|ihre|votre|vos|ton|ta|tu|tus|su|sus)[_-][\w-]+"
    r"|(?:你的|您的)\w+"
    # "fill in here" in Chinese: "请在此处填写", "在这里填入", "请输入密码", "待填写"
    r"|^请?(?:在)?(?:此处|这里|此)?(?:填写|填入|输入|替换)\w*$|^待填写$"
    r"|example\w*|dummy\w*|redacted|placeholder|none|null|true|false"
    # "insert_key_here"; a URL's query or a sentence may go on ("secret=YOUR_SECRET&js_code=…",
    # "secret=你的AppSecret，这两个值…")
    r"|(?:insert|enter|put|paste|add)[\w-]*[_-]here)(?:@|[&，。；,;].*)?$"
    # "insert here" in the other languages: "HIER_API_KEY_EINTRAGEN", "CLE_A_METTRE_ICI"
    r"|^hier[_-][\w-]*(?:eintragen|einf[üu]gen|einsetzen)$|[_-](?:ici|aqu[ií])$"
    r"|x{6,}|X{6,}|(?<![a-z])fake(?![a-z])|fake(?=[_-]?(?:key|token|secret|pass|api))"
    r"|ejemplo|exemple|beispiel"  # "example" anywhere, in the other languages: "sk_test_EJEMPLO123"
    r"|<[\w .-]{2,40}>|(?:\.\.\.|…)$",  # "whsec_<replace-me>", an elided "sk-..."
    regex.IGNORECASE,
)
_X_RUN = regex.compile(r"x{6,}|X{6,}")
# a key's body written as one character over and over ("AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
# "glc_1111...1="): the stand-in gitleaks' entropy floors reject; 16 in a row is no random key
_ONE_CHAR_RUN = regex.compile(r"(.)\1{15,}")
_REFERENCE = regex.compile(
    r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\([^()]{0,40}\))?$|^(?:os\.)?getenv|^env\["
    # the name a secret is stored under, not the secret: "NEXUS-GPT4-API-KEY", "PROD_DB_PASSWORD"
    r"|^[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)*[-_](?:KEY|TOKEN|SECRET|PASSWORD|PASS|PWD)$"
)


def secret_value(s: str) -> bool:
    """An assigned value that is a credential: not a placeholder, not a reference to another
    variable (settings.DB_PASSWORD), and random-looking (the entropy check below)."""
    value = regex.split(r"[:=]|requirepass\s", s, maxsplit=1, flags=regex.IGNORECASE)[-1]
    value = value.strip().strip("'\"")
    if _PLACEHOLDER.search(value) or _REFERENCE.search(value):
        return False
    return len(value) >= 8 and shannon_entropy(value) >= 3.0 and any(c.isdigit() for c in value)


# ignoring case, on lower case, the value's group, whether a name begins every match
_Keyword = tuple[re.Pattern[str], re.Pattern[str], int, bool]


def _keyword_plugin() -> tuple[list[_Keyword], re.Pattern[str]]:
    """detect-secrets' KeywordDetector: its patterns for a value assigned to, compared with, or
    passed as a password/secret/API-key name, each with the group that is the value (written
    for the standard `re`), and its list of those names. The quoted forms it uses for text of no
    known file type come first, then the forms of its other file types (YAML and config
    `password: value`, Go `:=`, C `char pw[] = "..."` and `@"..."`, C++ `secret("...")`): a
    prompt carries no file name, so every form is tried, and an unquoted value must look like
    a credential (see `_bare_secret`). Each pattern also without IGNORECASE, for lower-cased
    text: `re` searches that 20 times faster (8 vs 180 us on 500 characters); it is only made
    where the pattern's own letters are lower case, so both find the same. Most patterns
    begin with the names: those are searched from the first name of the line on."""
    from detect_secrets.plugins import keyword

    tables = (
        keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        keyword.COMMON_C_DENYLIST_REGEX_TO_GROUP,
        keyword.C_PLUS_PLUS_REGEX_TO_GROUP,
        keyword.GOLANG_DENYLIST_REGEX_TO_GROUP,
        keyword.CONFIG_DENYLIST_REGEX_TO_GROUP,
    )
    out, seen, names = [], set(), "|".join(keyword.DENYLIST)
    for rx, group in (item for table in tables for item in table.items()):
        if rx.pattern in seen:
            continue
        seen.add(rx.pattern)
        letters = re.sub(r"\\.", "", rx.pattern)
        lower = re.compile(rx.pattern, rx.flags & ~re.IGNORECASE) if letters.islower() else rx
        out.append((rx, lower, group, rx.pattern.startswith(f"({names})")))
    return out, re.compile(names)


_KEYWORD_REGEXES, _KEYWORD_NAME = _keyword_plugin()
# A word that every name of detect-secrets' list holds (api_?key, db_?pass, pwd, secret,
# contraseña), at most KEYWORD_NAME_LEAD characters into it ("database_pass"; a test checks
# the list): testing for them costs 0.3 us on a line that the names' pattern, 18 alternatives
# with no common prefix, takes 8 us to rule out, and that pattern is then searched from there.
KEYWORD_NAME_WORDS = ("key", "pass", "pwd", "secret", "contrase")
KEYWORD_NAME_LEAD = 9


def keyword_value(line: str) -> tuple[int, int] | None:
    """The span of the value detect-secrets' keyword patterns find in `line` (a hard-coded
    password or key), unless it is a placeholder, a reference, a run of x's or of any one
    character."""
    low = line.lower()
    same = len(low) == len(line)  # lower-casing kept every offset (not so for "İ")
    words = [at for w in KEYWORD_NAME_WORDS if (at := low.find(w)) >= 0]
    name = _KEYWORD_NAME.search(low, max(min(words) - KEYWORD_NAME_LEAD, 0)) if words else None
    if name is None:
        return None
    for rx, lower, group, leads in _KEYWORD_REGEXES:
        m = lower.search(low, name.start() if leads else 0) if same else rx.search(line)
        if m is None:
            continue
        a, b = m.span(group)
        value = line[a:b]
        quoted = a > 0 and line[a - 1] in "'\"`"
        if not quoted:  # a bare value in a Chinese sentence ends where the Chinese goes on
            value = _CJK_GOES_ON.split(value, maxsplit=1)[0]
            b = a + len(value)
        if _PLACEHOLDER.search(value) or _REFERENCE.search(value) or len(set(value)) < 3:
            continue
        if _ONE_CHAR_RUN.search(value):
            continue
        if quoted or _bare_secret(value):
            return a, b
    return None


# "secret=0a18…64f1，是不是 secret 填错了?": the normalized views read the full-width comma as
# ",", so a value's end is a punctuation mark (or none) before the next Chinese character
_CJK_GOES_ON = re.compile(r"[,;:.!?]?[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


_BARE_NOT_SECRET = regex.compile(
    r"\s|^[~./]|://|^\W+$|^[A-Za-z_-]+$|^\d+$|redacted"
    r"|^[A-Za-z_][\w.]*(?:[(\[].*|[)\]}][)\]},;]*)$",  # code: db_password), os.environ["KEY"]
    regex.I,
)


def _bare_secret(value: str) -> bool:
    """An unquoted value after a password or key name that reads as the credential itself: one
    run of 6 or more characters, not a word or words joined by "-" or "_", a number, a path, a
    URL, a run of symbols ("password: ********"), a redacted one or code (a name, a call or a
    subscript: `password=db_password)`). "password: I forgot it",
    "pwd: /home/me" and YAML's "secretStoreRef: aws-secretsmanager" are not credentials."""
    return len(value) >= 6 and not _BARE_NOT_SECRET.search(value)


_PROSE_TOKEN = regex.compile(r"[^\s,;，。、：:]+")
# code, markup, a URL or path, a variable ("$GITHUB_URL"), a word ending a sentence
_PROSE_NOT = regex.compile(r"[()\[\]=|<>{}]|://|^[/~$]|^[^\W\d_]+[?!.:;]+$")
_JOINERS = "-_./'\"„“”‚‘’«»"  # join words and numbers: not the symbols of a password


def prose_password_value(text: str) -> tuple[int, int] | None:
    """The password in the four words after a password word ("Passwort mqMyN_stvk&#VCqtA",
    "contraseña de administración: 9Fq7Kx2Rz4wL", "密码 Kh7#qLz92!vTm"): 8-64 characters, not
    code, a path or a URL, ASCII, with three of lower case, upper case, digits and symbols (not
    "-_./" or quotes), and random-looking (the entropy check). "Passwort vergessen",
    "Passwort-Manager", "password manager" and "mot de passe oublié. Connectez-vous" have none.
    Or the word the sentence says the password is (`_said_password`)."""
    word = _PROSE_WORD.match(text)
    after = word.end() if word else 0
    for m in itertools.islice(_PROSE_TOKEN.finditer(text, after), 4):  # after the word itself
        token = m.group().strip(_QUOTES).rstrip(".").rstrip(_QUOTES)  # „…“. and "…".
        if token and _prose_secret(token):
            a = m.start() + m.group().index(token)
            return a, a + len(token)
    return _said_password(text)


_QUOTES = "=\"'()[]«»“”„‚‘’"
# the password word a prose_password match begins with, however many words it is
_PROSE_WORD = regex.compile(r"(?i)mot\s{1,2}de\s{1,2}passe|secret\s?key|[^\s,;，。、：:]+")
# "Gazpacho.Andaluz77", "Atenea.Libros88": capitalised words joined by a point, a passphrase's
# shape; a reference names a module or object in lower case first (settings.DB_PASSWORD)
_PASSPHRASE = regex.compile(r"^[A-Z][a-z]+\.[A-Z]")
# "the password for the guests is", "das Passwort ist", "la contraseña del correo es", "le mot
# de passe du gîte c'est « … »", "密码是": what follows is the password, however many words after
# the word (an opening quote skipped)
_COPULA = regex.compile(
    r"(?:\s(?:is|was|ist|lautet|war|es|era|est|était)|\sc['’]est)"
    r"(?:\s+(?:now|jetzt|nun|ahora|maintenant|désormais))?(?:\s*:)?\s+[«»“”„\"']?\s*|(?:是|为)\s*"
)


# what a password field stores, not a password: an MD5, SHA-1 or SHA-256 digest in hex
# ("密码字段存的是 e10adc3949ba59abbe56e057f20f883e")
_HASH = regex.compile(r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")
# unless the word is a key's or a secret's: WeChat's AppSecret is 32 hex digits
_KEY_WORD = regex.compile(r"(?i)secret|key|token|密钥|秘钥")


def _said_password(text: str) -> tuple[int, int] | None:
    """The token right after the first "is" in the password word's line ("the password is
    trout-lantern-4417", "密码是 zhangjia8888!", "… ist „Wolkenkratzer#Elbe2023“"), when it is
    ASCII, 8-64 characters, letters with digits, not code or a path, and not a placeholder: a
    sentence that says what the password is needs no third kind of character. "The password
    is wrong", "das Passwort ist abgelaufen", "密码是8位数字" and a hex digest have none."""
    said = _COPULA.search(text)
    m = _PROSE_TOKEN.match(text, said.end()) if said else None
    token = m.group().strip(_QUOTES + ".") if m else ""
    if not (token.isascii() and 8 <= len(token) <= 64) or _PROSE_NOT.search(token):
        return None
    has = any(c.isalpha() for c in token) and any(c.isdigit() for c in token)
    if not has or _PLACEHOLDER.search(token) or _prose_reference(token):
        return None
    if shannon_entropy(token) < 2.5 or (_HASH.match(token) and not _KEY_WORD.search(text, 0, 12)):
        return None
    a = m.start() + m.group().index(token) if m else 0
    return a, a + len(token)


def _prose_secret(token: str) -> bool:
    kinds = sum(
        (any(c.islower() for c in token), any(c.isupper() for c in token),
         any(c.isdigit() for c in token), any(not c.isalnum() and c not in _JOINERS for c in token))
    )  # fmt: skip
    if not (8 <= len(token) <= 64 and token.isascii()) or kinds < 3 or _PROSE_NOT.search(token):
        return False
    if _PLACEHOLDER.search(token) or _prose_reference(token):
        return False
    return shannon_entropy(token) >= 3.0


def login_pair_value(text: str) -> tuple[int, int] | None:
    """The password of "admin / Nw!print2025": the token after the slash, when it reads as one
    (`_prose_secret`: three kinds of character, random-looking); "admin / root" has none."""
    at = text.index("/") + 1
    m = _PROSE_TOKEN.search(text, at)
    token = m.group().strip(_QUOTES + ".") if m else ""
    if not (m and _prose_secret(token)):
        return None
    a = m.start() + m.group().index(token)
    return a, a + len(token)


def _prose_reference(token: str) -> bool:
    return _REFERENCE.search(token) is not None and not _PASSPHRASE.match(token)


def placeholder(value: str) -> bool:
    """A stand-in for a credential: "changeme", "<your-key>", "${VAR}", "xxxxxx", "a-fake-key"."""
    return _PLACEHOLDER.search(value) is not None


def not_placeholder(s: str) -> bool:
    """A key's random part, not "sk-XXXXXXXX..." or "sk-your-key-here-..."."""
    body = regex.sub(r"^[a-z]{2,4}[_-](?:(?:proj|svcacct|admin|ant|live|test)[_-])?", "", s)
    return len(set(body)) >= 8 and not _PLACEHOLDER.search(body)


def no_x_run(s: str) -> bool:
    """Not a key written with a run of x's ("ghp_xxxx...", "glpat-XXXX...", "AKIAXXXX...")."""
    return not _X_RUN.search(s)


# the commands that take a password with each form of option (cli_password): "mysql -pXXX",
# "sshpass -p XXX", "lftp -u user,XXX", "curl -u user:XXX", "redis-cli -a XXX"
_CLI_COMMANDS = {
    form: regex.compile(rf"(?<![\w-])(?:{names})(?![\w-])[^\n]*$")
    for form, names in {"-p": "mysql|mysqldump|mysqladmin|mariadb", "-p ": "sshpass", "-u,": "lftp",
                        "-u:": "curl", "-a": "redis-cli", "-a ": "redis-cli"}.items()
}  # fmt: skip
_CLI_USER = regex.compile(r"-u\s+[^\s,:'\"]+([,:])(.*)", regex.S)


def cli_password_ok(s: str, before: str = "") -> bool:
    """A password option of a command on the same line that takes one that way (_CLI_COMMANDS,
    by the option's form), with a value that is not a placeholder ("-p'<password>'",
    "-p$DB_PASS", "-pPASSWORT", "-p你的密码"): ASCII, six characters or more, with a digit or a
    symbol."""
    if "<" in s:  # "curl -u <user:password>"
        return False
    user = _CLI_USER.match(s)
    if user:
        form, value = "-u" + user.group(1), user.group(2)
    else:
        form, value = s[:2] + (" " if s[2:3].isspace() else ""), s[2:].strip()
    value, command = value.strip("'\""), _CLI_COMMANDS.get(form)
    if not command or not command.search(before) or not value.isascii() or len(value) < 6:
        return False
    return any(not c.isalpha() for c in value) and not placeholder(value)


# after the network's name, the word for its password or key in the five languages, then the
# password ("password bluejay-harbor-1987", "Schlüssel: Moewe#Kiel2024!", "clé WPA : …", "密码 …")
_WIFI_KEY = regex.compile(
    r"(?i)(?<![a-zäöü])(?:passwor[dt]|kennwort|schl[üu]ssel|key|cl[ée](?:\s{1,2}de\s{1,2}"
    r"s[ée]curit[ée])?|clave|contrase[ñn]a"
    r"|mot\s{1,2}de\s{1,2}passe|mdp|pw|pwd|pass(?:phrase)?)(?![a-zäöü])(?:\s{0,2}wpa2?)?"
    r"(?:\s{0,2}[:：=]|\s{1,2}(?:is|ist|es|est|lautet))?\s{0,2}[«“„\"'‚‘]?\s{0,2}"
    r"|密码\s{0,2}[:：是为]?\s{0,2}"
)
_WIFI_TOKEN = regex.compile(r"[^\s,;，。、“”»\"']{8,64}")


def wifi_password_value(text: str) -> tuple[int, int] | None:
    """The password after its word in a line that begins with a Wi-Fi word (wifi_password):
    ASCII, 8-64 characters, letters with digits (or 16 digits and more, as routers print
    theirs), random-looking enough (entropy 2.5), not a placeholder or code. "WLAN-Passwort:
    steht auf der Box" and "wifi password must have 8 characters" have none; a shorter code of
    digits alone is not taken (an order or a room number)."""
    key = _WIFI_KEY.search(text, 2)
    m = _WIFI_TOKEN.match(text, key.end()) if key else None
    if m is None:
        return None
    token = m.group().rstrip(".)")
    if not (token.isascii() and len(token) >= 8) or _PROSE_NOT.search(token):
        return None
    letters_and_digits = any(c.isalpha() for c in token) and any(c.isdigit() for c in token)
    router_key = token.isdigit() and len(token) >= 16  # a FRITZ!Box's is 20 digits
    if not (letters_and_digits or router_key) or _PLACEHOLDER.search(token):
        return None
    if shannon_entropy(token) < 2.5:
        return None
    return m.start(), m.start() + len(token)
