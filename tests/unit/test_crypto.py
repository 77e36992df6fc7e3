"""The crypto boundary (lily_adapters.crypto): AES-GCM fields under a key ring, blind
indexes under their own key, keys from settings or generated into the data directory."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lily_adapters import crypto
from lily_adapters.crypto import (
    BlindIndexer,
    DecryptionError,
    FieldCipher,
    InvalidKeys,
    KeyRing,
    format_keys,
    parse_keys,
)
from lily_adapters.settings import Settings

PURPOSE = "leads.phone"


def ring(*ids: str) -> KeyRing:
    return KeyRing(tuple((kid, crypto.new_key()) for kid in ids))


@given(st.text(max_size=2000))
def test_round_trip_of_any_text(plain: str) -> None:
    cipher = FieldCipher(ring("k1"))
    stored = cipher.encrypt(plain, PURPOSE)
    assert cipher.decrypt(stored, PURPOSE) == plain


def test_the_same_value_encrypts_differently_each_time_and_shows_nothing() -> None:
    cipher = FieldCipher(ring("k1"))
    first, second = (cipher.encrypt("+12145550123", PURPOSE) for _ in range(2))
    assert first != second
    assert "2145550123" not in first and first.startswith("k1$")


def test_a_wrong_key_is_a_clear_error_not_garbage() -> None:
    stored = FieldCipher(ring("k1")).encrypt("jane@example.com", PURPOSE)
    with pytest.raises(DecryptionError, match="does not decrypt under key 'k1'"):
        FieldCipher(ring("k1")).decrypt(stored, PURPOSE)


def test_a_value_under_a_key_not_in_the_ring_names_the_key() -> None:
    stored = FieldCipher(ring("k1")).encrypt("Jane", PURPOSE)
    with pytest.raises(DecryptionError, match="key 'k1', not in the ring"):
        FieldCipher(ring("k2")).decrypt(stored, PURPOSE)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])  # nonce, ciphertext, tag
def test_a_tampered_ciphertext_is_a_clear_error(position: int) -> None:
    cipher = FieldCipher(ring("k1"))
    kid, body = cipher.encrypt("+12145550123", PURPOSE).split("$")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    with pytest.raises(DecryptionError, match="wrong key or altered"):
        cipher.decrypt(f"{kid}${_b64(bytes(raw))}", PURPOSE)


def test_a_ciphertext_moved_to_another_column_does_not_decrypt() -> None:
    cipher = FieldCipher(ring("k1"))
    stored = cipher.encrypt("whsec_123", "tenants.calcom_secret")
    with pytest.raises(DecryptionError):
        cipher.decrypt(stored, "leads.name")


def test_plaintext_or_a_truncated_value_is_not_read_as_ciphertext() -> None:
    cipher = FieldCipher(ring("k1"))
    with pytest.raises(DecryptionError, match="not an encrypted value"):
        cipher.decrypt("+12145550123", PURPOSE)
    with pytest.raises(DecryptionError):
        cipher.decrypt("k1$abc", PURPOSE)


def test_after_rotation_the_newest_key_encrypts_and_the_old_still_decrypts() -> None:
    old = ring("k1")
    before = FieldCipher(old).encrypt("Jane O'Hara", PURPOSE)
    rotated = old.rotated()
    cipher = FieldCipher(rotated)
    assert rotated.current_id == "k2"
    assert cipher.decrypt(before, PURPOSE) == "Jane O'Hara"
    assert not cipher.is_current(before)
    after = cipher.encrypt("Jane O'Hara", PURPOSE)
    assert cipher.key_id(after) == "k2" and cipher.is_current(after)
    with pytest.raises(DecryptionError):  # the old ring alone cannot read the new value
        FieldCipher(old).decrypt(after, PURPOSE)


def test_the_key_ring_reads_back_as_written_and_refuses_bad_rings() -> None:
    keys = ring("k1", "old-2")
    assert parse_keys(format_keys(keys)) == keys
    assert parse_keys(" " + format_keys(keys) + ", ") == keys
    short = base64.urlsafe_b64encode(b"x" * 16).decode()
    for bad, reason in [
        ("", "empty"),
        ("k1", "id:base64url-key"),
        (f"k1:{short}", "not 32 bytes"),
        ("k1:***", "not base64url"),
        (f"{format_keys(ring('k1'))},{format_keys(ring('k1'))}", "same id"),
        (f"bad id:{format_keys(ring('x')).split(':')[1]}", "key id"),
    ]:
        with pytest.raises(InvalidKeys, match=reason):
            parse_keys(bad)


def test_blind_indexes_are_equal_for_one_tenant_and_kind_only() -> None:
    indexer = BlindIndexer(crypto.new_key())
    phone = indexer.digest("phone", "t1", "+12145550123")
    assert phone == indexer.digest("phone", "t1", "+12145550123")
    assert len(phone) == 32 and "2145550123" not in phone
    assert phone != indexer.digest("phone", "t2", "+12145550123")
    assert phone != indexer.digest("last4", "t1", "+12145550123")
    assert phone != BlindIndexer(crypto.new_key()).digest("phone", "t1", "+12145550123")
    with pytest.raises(InvalidKeys):
        BlindIndexer(b"short")


def test_a_rotated_blind_index_ring_writes_under_the_newest_and_looks_up_under_all() -> None:
    bare = base64.urlsafe_b64encode(crypto.new_key()).decode().rstrip("=")
    old = crypto.parse_blind_keys(bare)  # what LILY_BLIND_INDEX_KEY held before rotations
    assert [kid for kid, _ in old] == ["b1"]
    rotated = crypto.rotated_blind_keys(old)
    assert [kid for kid, _ in rotated] == ["b2", "b1"] and rotated[1:] == old
    assert crypto.parse_blind_keys(crypto.format_blind_keys(rotated)) == rotated

    before, after = BlindIndexer(old), BlindIndexer(rotated)
    was = before.digest("phone", "t1", "+12145550123")
    now = after.digest("phone", "t1", "+12145550123")
    assert was != now and after.current_id == "b2"
    assert after.digests("phone", "t1", "+12145550123") == [now, was]
    assert BlindIndexer(old[0][1]).digest("phone", "t1", "+12145550123") == was  # bare bytes
    key = crypto.format_blind_keys(old).split(":")[1]
    for bad, reason in [
        (f"b1:{key},b1:{key}", "same id"),
        ("b1:***", "not base64url"),
        (f"b1:{key},oops", "id:base64url-key"),
        ("b1:" + base64.urlsafe_b64encode(b"x" * 16).decode(), "at least 32 bytes"),
    ]:
        with pytest.raises(InvalidKeys, match=reason):
            BlindIndexer(crypto.parse_blind_keys(bad))


def test_the_embedded_default_generates_its_keys_once_private(tmp_path: Path) -> None:
    first = crypto.load_or_create(tmp_path / "data")
    assert crypto.load_or_create(tmp_path / "data") == first
    for name in (crypto.KEYS_FILE, crypto.BLIND_KEY_FILE):
        mode = (tmp_path / "data" / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600
    given_ring = format_keys(ring("k9"))
    given_blind = base64.urlsafe_b64encode(crypto.new_key()).decode()
    keys, blind = crypto.load_or_create(tmp_path / "other", given_ring, given_blind)
    assert keys.current_id == "k9" and [(kid, len(key)) for kid, key in blind] == [("b1", 32)]
    assert not (tmp_path / "other").exists()  # nothing generated when keys are given


def test_production_requires_keys_from_the_environment() -> None:
    postgres = "postgresql+psycopg://lily@db/lily"
    bare = Settings(_env_file=None, database_url=postgres)
    assert bare.missing_keys() == (
        "LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY: required with a PostgreSQL database"
        " (make them with `lily keys new`; keep them outside the database and its backups)"
    )
    half = Settings(_env_file=None, database_url=postgres, encryption_keys="k1:x")
    assert (half.missing_keys() or "").startswith("LILY_BLIND_INDEX_KEY: required")
    embedded = Settings(_env_file=None, database_url="sqlite:///./lily.db")
    assert embedded.missing_keys() is None


def test_lily_serve_refuses_production_without_keys_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "LILY_DATABASE_URL": "postgresql+psycopg://lily@127.0.0.1:1/lily",
        "LILY_DATA_DIR": str(tmp_path / "data"),
    }
    for command in ("serve", "worker"):
        done = subprocess.run(
            [sys.executable, "-c", "from lily_cli.main import main; main()", command],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(
            "error: LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY: required with a PostgreSQL"
        )
        assert done.stderr.count("\n") == 1


def _lily(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from lily_cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LILY_DATA_DIR": str(tmp_path / "data"), **env},
        cwd=tmp_path,
        timeout=60,
    )


def test_lily_keys_new_prints_keys_production_accepts(tmp_path: Path) -> None:
    done = _lily(tmp_path, "keys", "new")
    assert done.returncode == 0, done.stderr
    values = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert parse_keys(values["LILY_ENCRYPTION_KEYS"]).current_id == "k1"
    settings = Settings(
        _env_file=None,
        database_url="postgresql+psycopg://lily@db/lily",
        encryption_keys=values["LILY_ENCRYPTION_KEYS"],
        blind_index_key=values["LILY_BLIND_INDEX_KEY"],
    )
    assert settings.missing_keys() is None
    assert crypto.load_or_create(
        tmp_path, values["LILY_ENCRYPTION_KEYS"], values["LILY_BLIND_INDEX_KEY"]
    )


def test_lily_keys_rotate_adds_a_key_in_front(tmp_path: Path) -> None:
    first, _ = crypto.load_or_create(tmp_path / "data")  # the embedded default's ring
    done = _lily(tmp_path, "keys", "rotate")
    assert done.returncode == 0, done.stderr
    rotated, _ = crypto.load_or_create(tmp_path / "data")
    assert rotated.current_id == "k2" and rotated.keys[1:] == first.keys
    given = format_keys(rotated)
    done = _lily(tmp_path, "keys", "rotate", LILY_ENCRYPTION_KEYS=given)
    assert done.returncode == 0, done.stderr
    printed = parse_keys(done.stdout.strip().removeprefix("LILY_ENCRYPTION_KEYS="))
    assert printed.current_id == "k3" and printed.keys[1:] == rotated.keys
    assert crypto.load_or_create(tmp_path / "data")[0] == rotated  # the file is left alone
