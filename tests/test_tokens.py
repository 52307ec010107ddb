from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from dunning.errors import InputError
from dunning.tokens import (
    MissingKeys, TokenExpired, TokenForeign, TokenSigner, TokenTampered, add_links, keys_from_env, manage_url,
)

KEY = "k-new-0123456789"
OLD = "k-old-0123456789"


def signer(**kw):
    return TokenSigner([KEY], **kw)


def test_round_trip_and_order_binding():
    token = signer().sign("A-1")
    assert signer().verify(token) == "A-1"
    assert signer().verify(token, order_id="A-1") == "A-1"
    with pytest.raises(TokenForeign):
        signer().verify(token, order_id="A-2")


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:],
    lambda t: t[: len(t) // 2],
    lambda t: "QS0y" + t[t.index("."):],
    lambda t: "",
])
def test_tampered_and_truncated_tokens(mangle):
    with pytest.raises(TokenTampered):
        signer().verify(mangle(signer().sign("A-1")))


def test_wrong_key_is_tampered():
    with pytest.raises(TokenTampered):
        TokenSigner(["someone-elses-key"]).verify(signer().sign("A-1"))


def test_expired_token_tells_its_order():
    issued = datetime.now(timezone.utc) - timedelta(days=46)
    token = signer().sign("A-1", issued_at=issued)
    with pytest.raises(TokenExpired) as caught:
        signer(max_age=timedelta(days=45)).verify(token)
    assert caught.value.order_id == "A-1"
    assert signer(max_age=timedelta(days=47)).verify(token) == "A-1"


def test_token_for_another_purpose_is_foreign():
    token = TokenSigner([KEY], purpose="unsubscribe").sign("A-1")
    with pytest.raises(TokenForeign):
        signer().verify(token)


def test_key_rotation_newest_first():
    old_token = TokenSigner([OLD]).sign("A-1")
    rotated = TokenSigner([KEY, OLD])
    assert rotated.verify(old_token) == "A-1"
    new_token = rotated.sign("A-1")
    assert TokenSigner([KEY]).verify(new_token) == "A-1"
    with pytest.raises(TokenTampered):
        TokenSigner([OLD]).verify(new_token)


def test_keys_from_environment_and_no_builtin_key():
    a, b = "a" * 32, "b" * 40
    assert keys_from_env({"DUNNING_SECRET_KEYS": f" {a} , {b} ,"}) == [a, b]
    assert keys_from_env({}) == []
    with pytest.raises(MissingKeys):
        TokenSigner([]).sign("A-1")


def test_links_stay_under_255_characters():
    frame = pd.DataFrame({"order_id": ["A-1", "Bestellung #2 ü"]})
    issued = datetime(2026, 11, 20, tzinfo=timezone.utc)
    out = add_links(frame, signer(), "https://shop.example/pay/{token}?x=1", issued_at=issued)
    assert all(u.startswith("https://shop.example/pay/") and u.endswith("?x=1") for u in out["manage_url"])
    assert signer().verify(out["token"].iloc[1]) == "Bestellung #2 ü"
    assert out["link_expires_at"].iloc[0] == issued + timedelta(days=45)
    with pytest.raises(InputError, match="at most 254"):
        add_links(pd.DataFrame({"order_id": ["x" * 200]}), signer(), "https://shop.example/{token}")
    with pytest.raises(InputError, match="no {token} placeholder"):
        manage_url("https://shop.example/", "t")


def test_batch_signing_gives_the_same_tokens_as_single_signing():
    issued = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    ids = ["A-1", "Bestellung #2 ü", ""]
    assert signer().sign_many(ids, issued) == [signer().sign(i, issued) for i in ids]


def test_a_short_signing_key_is_refused_with_how_to_make_one():
    from dunning.errors import InputError
    from dunning.tokens import keys_from_env

    with pytest.raises(InputError, match=r"key 2 has fewer than 32 characters; make one with: python -c"):
        keys_from_env({"DUNNING_SECRET_KEYS": "a" * 40 + ",x"})
    assert keys_from_env({"DUNNING_SECRET_KEYS": " " + "a" * 32 + " "}) == ["a" * 32]


def test_only_the_form_that_was_signed_opens_anything():
    token = signer().sign("A-1")
    body, stamp, signature = token.split(".")
    flipped = signature[:-1] + chr(ord(signature[-1]) ^ 1)  # the same bytes, other unused trailing bits
    respelled = [token + "=", token + "==", token.replace("-", "+").replace("_", "/"), token + "é", token + " ",
                 f"{body}=.{stamp}.{signature}", f"{body}.{stamp}.{flipped}"]
    assert signer().verify(token) == "A-1"
    for other in respelled:
        if other != token:
            with pytest.raises(TokenTampered):
                signer().verify(other)
