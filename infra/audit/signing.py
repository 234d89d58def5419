"""Signed checkpoints: an Ed25519 signature over (position, chain hash, time).

A checkpoint pins the log: whoever holds the public key can check that the chain entry at
`position` had hash `hash` at `created_at`. Altering any event at or before that position changes
every later chain hash, so it can no longer match a checkpoint signed before the change, even if
the alterer recomputed the whole chain in the database.

The signed message is ASCII text, easy to re-create by hand:

    cluster-ledger/checkpoint/v1|<position>|<chain hash hex>|<created_at, UTC, microseconds, Z>
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.errors import ConfigError

MESSAGE_PREFIX = "cluster-ledger/checkpoint/v1"


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    position: int  # notification id of the chain entry pinned
    hash: str  # that entry's chain hash, hex
    created_at: datetime  # when it was signed (UTC)
    signature: str  # Ed25519 signature of `checkpoint_message(...)`, base64
    key_fingerprint: str  # "sha256:<hex of the raw 32-byte public key>"


def format_instant(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("instants are timezone-aware")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_message(position: int, hash_hex: str, created_at: datetime) -> bytes:
    return f"{MESSAGE_PREFIX}|{position}|{hash_hex}|{format_instant(created_at)}".encode("ascii")


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


class CheckpointSigner:
    """Holds the private key; signs checkpoints."""

    def __init__(self, private_pem: str) -> None:
        try:
            key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError("invalid_checkpoint_key", f"checkpoint key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError("invalid_checkpoint_key", "the checkpoint key must be Ed25519")
        self._key = key
        self.public_pem = _public_pem(key.public_key())
        self.fingerprint = key_fingerprint(key.public_key())

    def sign(self, position: int, chain_hash: bytes, created_at: datetime) -> Checkpoint:
        hash_hex = chain_hash.hex()
        signature = self._key.sign(checkpoint_message(position, hash_hex, created_at))
        return Checkpoint(
            position=position,
            hash=hash_hex,
            created_at=created_at.astimezone(UTC),
            signature=base64.b64encode(signature).decode("ascii"),
            key_fingerprint=self.fingerprint,
        )


class CheckpointVerifier:
    """Holds a public key; checks checkpoint signatures."""

    def __init__(self, public_pem: str) -> None:
        try:
            key = serialization.load_pem_public_key(public_pem.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigError("invalid_public_key", f"public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError("invalid_public_key", "the checkpoint public key must be Ed25519")
        self._key = key
        self.public_pem = _public_pem(key)
        self.fingerprint = key_fingerprint(key)

    def verify(self, checkpoint: Checkpoint) -> bool:
        try:
            signature = base64.b64decode(checkpoint.signature, validate=True)
            self._key.verify(
                signature,
                checkpoint_message(checkpoint.position, checkpoint.hash, checkpoint.created_at),
            )
        except (InvalidSignature, ValueError):
            return False
        return True
