"""Secrets the blind sets kept missing, read at stop 37 across heldout-v2..v32 (each case written
anew with made-up values, not copied from a set): Chinese clouds' keys and bot webhooks, a
Telegram token in its API URL, a key before Chinese punctuation, passwords said in prose or as
an administrator's "user / password"; and what must stay clean next to each."""

from __future__ import annotations

import pytest

from safety.suites import findings
from tests.safety.test_detection_public import POLICY, categories


def secret_spans(text: str) -> list[str]:
    return [text[f.start : f.end] for f in findings(POLICY, text) if f.category == "secrets"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [  # Tencent Cloud's SecretId (AKID + 32), with the SecretKey of the SDK's pair
        (
            'cred = credential.Credential("AKIDq8Rn2VwLpX4sT7yZ0bM3cF6hJ9kN1eQ5", '
            '"Zp4Lx9Qw2Er7Ty5Ui8Op3As6Df1Gh0Jk")',
            "AKIDq8Rn2VwLpX4sT7yZ0bM3cF6hJ9kN1eQ5",
        ),
        ("SecretId 是 AKIDq8Rn2VwLpX4sT7yZ0bM3cF6hJ9kN1eQ5，地域是广州", "AKIDq8Rn2Vw"),
        # WeCom, DingTalk and Feishu bot webhooks carry their key
        (
            "curl 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=5b1e9c2a-7d3f-4e8a-b6c1-"
            "0f2d9e8a7b6c' -d '{}'",
            "send?key=5b1e9c2a",
        ),
        (
            "webhook: https://oapi.dingtalk.com/robot/send?access_token="
            "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e2b6d4a9f1c7e3b5d8a2f6c4e0b9d1a7f",
            "access_token=3f9a",
        ),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/8c2e4a6f-1b3d-4f5a-9e7c-2d4b6a8f0e1c",
            "hook/8c2e4a6f",
        ),
        # a Telegram bot token right after "/bot" in the Bot API's URL
        (
            'requests.get("https://api.telegram.org/bot7319024586:AAGq3Kx9Lm2Np5Rs8Tu1Vw4Yz7Bc0De6Fg'
            'H/sendMessage")',
            "7319024586:AAGq3Kx9",
        ),
        # an Alibaba AccessKeyId (gitleaks' rule) before a full-width comma
        ("我的 AccessKeyId 是 LTAI5tQ8wXr2Lm9Kp4Zn7Vb3，地域是杭州", "LTAI5tQ8wXr2Lm9Kp4Zn7Vb3"),
        # a keyword's bare value ends where the Chinese sentence goes on
        (
            "后端配置 secret=7c1e9a3f5b2d8e4a6c0f9b1d7e3a5c8f，是不是填错了？",
            "7c1e9a3f5b2d8e4a6c0f9b1d7e3a5c8f",
        ),
    ],  # fmt: skip
)
def test_a_provider_key_the_sets_wrote_is_found(text: str, secret: str) -> None:
    spans = secret_spans(text)
    assert any(secret in s for s in spans), spans


def test_a_bare_value_that_is_chinese_is_not_a_secret() -> None:
    assert "secrets" not in categories("配置里 password=见附件，请查收")
    assert "secrets" not in categories("api_key=sk-placeholder，是不是变量名对不上？")


@pytest.mark.parametrize(
    ("text", "password"),
    [
        ("La contraseña de la red de invitados es: Higuera#2031!", "Higuera#2031!"),
        (
            "Das Passwort fürs Lager-WLAN ist jetzt Kormoran-Hafen-5512, bitte weitergeben.",
            "Kormoran-Hafen-5512",
        ),
        (
            "la contraseña del blog es Membrillo.Sevilla42 y el usuario editor",
            "Membrillo.Sevilla42",
        ),
        (
            "Le mot de passe de la tablette de la salle de réunion du deuxième étage, c'est "
            "Mistral_Sete34, pense à le noter.",
            "Mistral_Sete34",
        ),
        ("Nouveau compte : Mot de passe provisoire de session : Accueil-2031!", "Accueil-2031!"),
        ("Zugangsdaten für Jonas: Erstpasswort Tanne!Start2031, bitte ändern.", "Tanne!Start2031"),
        # a password word whose stretch holds none leaves the next one to be read
        (
            "Te dejo la clave del wifi del local para el cartel: red CAFE_24B, contraseña "
            "Naranjo_Verde_2031",
            "Naranjo_Verde_2031",
        ),
        ("the NAS login is admin / Heron#Quay7731 if the backup job fails", "Heron#Quay7731"),
        ("- srv02 : 10.4.0.12, compte root / Garrigue#2031!Sud", "Garrigue#2031!Sud"),
    ],  # fmt: skip
)
def test_a_password_said_in_prose_is_found(text: str, password: str) -> None:
    assert password in secret_spans(text)


@pytest.mark.parametrize(
    "text",
    [
        "Das Passwort ist abgelaufen, ich habe jetzt ein neues angefordert.",
        "la contraseña es demasiado corta, ¿cuántos caracteres necesita?",
        "the password is settings.DB_PASSWORD2 in production, read from the vault",
        "Einmalpasswort per SMS anfordern",
        "Log in as admin / root depending on the host, then run the script.",
        "Roles: admin / editor / viewer, each with its own dashboard.",
    ],
)
def test_talk_about_passwords_and_roles_stays_clean(text: str) -> None:
    assert "secrets" not in categories(text)
