"""Detection fixes from the blind sets read at stop 33 (heldout-v15..v17; each case written
anew, not copied from a set), and the secrets and injection suites scored where their labels
match."""

from __future__ import annotations

import json

import pytest

from safety.checksums import luhn_ok
from safety.moderation import categories_found
from safety.suites import (
    BIPIA_TASK_IRRELEVANT,
    SUITES,
    injection_labels_match,
    labels_match,
    run_suite,
)
from tests.safety.test_detection_public import POLICY, categories


@pytest.mark.parametrize(
    ("name", "text"),
    [("NEXUS-GPT4-API-KEY", 'LLM_SECRET_NAME = "{}"'), ("PROD_DB_PASSWORD", 'db_password = "{}"')],
)
def test_the_name_a_secret_is_stored_under_is_not_a_secret(name: str, text: str) -> None:
    assert "secrets" not in categories(text.format(name))
    assert "secrets" in categories(text.format("Kq8z!vR2m#Lp4e9w"))


def test_aws_documented_example_key_is_not_a_secret_and_a_generated_one_is() -> None:
    # five blind writers (heldout-v11..v15) and gitleaks' allowlist call it an example
    text = "The AWS CLI docs use {} in every sample."
    assert "secrets" not in categories(text.format("AKIAIOSFODNN7EXAMPLE"))
    assert "secrets" in categories(text.format("AKIA2OGYBAH6Q3KRLEGK"))


def test_a_variable_closing_a_dict_is_not_a_password() -> None:
    code = 'config = {"host": "localhost", "user": "root", "password": password}'
    assert "secrets" not in categories(code)
    assert "secrets" in categories(code.replace(": password}", ': "Kq8z!vR2m#Lp4e9w"}'))


def test_secrets_matched_leaves_out_only_records_whose_label_means_something_else() -> None:
    ds, gl = "Yelp/detect-secrets", "gitleaks/gitleaks"
    assert not labels_match({"text": "AP6xxxxxxxxxx", "label": 1, "source": ds})
    assert not labels_match({"text": "133.133.133.133", "label": 1, "source": ds,
                             "kind": "ip_public"})  # fmt: skip
    assert labels_match({"text": "ghp_xxxxxxxxxxxxxxxxxxxx", "label": 0, "source": gl})
    key = "MailchimpSDK.initialize(token: 3012a5754bbd716926f99c028f7ea428-us18)"
    assert not labels_match({"text": key, "label": 0, "source": gl, "note": "False Negative"})
    assert labels_match({"text": key, "label": 0, "source": gl, "note": "low entropy"})
    assert labels_match({"text": "AP6a1B2c3D4e5F6g7", "label": 1, "source": ds})
    every = SUITES["secrets"].path.read_text().count("\n")
    kept = run_suite(POLICY, "secrets-matched")["records"]
    assert every - 50 < kept < every  # a few dozen of 999


@pytest.mark.parametrize(
    "text",
    [  # written anew, in the shapes heldout-v4, v13 and v16 flagged
        "After upgrading the scanner driver from 5.14.2.1 to 5.16.0.3 it freezes.",
        "Nach dem Update von libbar 3.4.12.1 auf 3.4.13.0 stürzt der Build ab.",
        "Pasé el firmware de la cámara de 2.8.1.4 a la 2.9.0.2 y no graba.",
        "Depuis la mise à jour, le pilote passe de 6.22.1.3 à 6.23.0.1.",
        "摄像头固件从 5.2.3.1 升到 5.4.0.2 之后黑屏",
        "Subnet mask 255.255.255.0, listen on 0.0.0.0, multicast 239.1.2.3",
    ],
)
def test_versions_upgraded_in_a_sentence_and_netmasks_are_not_ip_addresses(text: str) -> None:
    assert "pii_network" not in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "After the firmware update, traffic from 192.168.1.20 to 10.0.0.5 is blocked.",
        "Traffic from 5.14.2.1 to 5.16.0.3 is blocked.",  # no update word: hosts
        "The upgrade went fine. Then 5.14.2.1 stopped answering.",  # another sentence
    ],
)
def test_hosts_next_to_update_words_stay_ip_addresses(text: str) -> None:
    assert "pii_network" in categories(text)


@pytest.mark.parametrize(
    "text",
    [  # written anew, in the shapes heldout-v4, v11, v14..v17 missed
        'DATABASE_URL="mysql://shop:Qv8!rT2zLp@10.20.30.40:3306/shop"',
        "redis://:Hq7#zPw2Lm9@172.18.0.5:6379/0",
        'curl http://203.0.113.77:8080/api -H "Authorization: Bearer '
        'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVlLTEyMzQ"',
    ],
)
def test_a_host_inside_a_secret_is_reported_as_an_address_too(text: str) -> None:
    assert {"secrets", "pii_network"} <= categories(text)
    assert {"secrets", "pii_network"} <= set(categories_found(POLICY, text))


def test_fourteen_digits_are_a_card_only_with_a_diners_prefix() -> None:
    assert luhn_ok("3056 9309 0259 04") and not luhn_ok("73282932000074")  # Diners; a SIRET
    assert "pii_financial" not in categories("Le SIRET 73282932000074 est-il actif ?")


@pytest.mark.parametrize(
    "text",
    ["Mein Drucker-Treiber 6.3.0.1 startet nicht mehr.", "电脑版 3.9.10.19 登录提示版本过低"],
)
def test_a_driver_or_edition_number_is_not_an_ip_address(text: str) -> None:
    assert "pii_network" not in categories(text)


def test_injection_matched_leaves_out_only_bipias_plain_requests() -> None:
    bipia = "microsoft/BIPIA"
    plain = {"source": bipia, "label": 1, "category": "indirect/table/Research Assistance/end"}
    assert not injection_labels_match(plain)
    for kept in ("indirect/email/Base Encoding/start", "indirect/code/Keylogging/middle",
                 "clean-context/email", "user-question/table"):  # fmt: skip
        assert injection_labels_match({"source": bipia, "label": 1, "category": kept})
    other = {"source": "NotInject", "label": 0, "category": "Common Queries/trigger-words:USER"}
    assert injection_labels_match(other)
    rows = [json.loads(x) for x in SUITES["injection"].path.read_text().split("\n") if x]
    left = [r for r in rows if not injection_labels_match(r)]
    # every category named is in the data (a renamed one would leave nothing out silently)
    assert {r["category"].split("/")[2] for r in left} == set(BIPIA_TASK_IRRELEVANT)
    assert all(r["label"] == 1 and r["source"].startswith(bipia) for r in left)
    assert run_suite(POLICY, "injection-matched")["records"] == len(rows) - len(left)
