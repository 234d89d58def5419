"""Signing keys: from configuration in production; generated under var/keys for development."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def generate_ed25519_pem() -> tuple[str, str]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


def public_pem_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def dev_key_pair(directory: Path, name: str) -> tuple[str, str]:
    """Load or create `<name>.pem` (private, mode 0600) and `<name>.pub.pem` in `directory`."""
    private_path = directory / f"{name}.pem"
    public_path = directory / f"{name}.pub.pem"
    if not private_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        private, public = generate_ed25519_pem()
        private_path.touch(mode=0o600)
        private_path.write_text(private, encoding="utf-8")
        public_path.write_text(public, encoding="utf-8")
    private = private_path.read_text(encoding="utf-8")
    return private, public_pem_of(private)


def dev_secret(directory: Path, name: str) -> str:
    """Load or create `<name>.secret` (random text, mode 0600) in `directory`: an HMAC key for
    development, like the key pairs above."""
    path = directory / f"{name}.secret"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
