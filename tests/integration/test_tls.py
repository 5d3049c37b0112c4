"""TLS verification is on by default: a SchedulerX endpoint with a certificate nobody vouches
for is refused, with a message that says so, unless verification is turned off on purpose."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_schedulerx.emulator import Emulator
from airflow_provider_schedulerx.exceptions import SchedulerXConnectionError
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from airflow_provider_schedulerx.rpc.aio import close_shared_session
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, TEST_JOBS


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_emulator(tmp_path: Path) -> Iterator[Emulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed_certificate(tmp_path))
    with Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        jobs=TEST_JOBS,
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        ssl_context=context,
    ) as emu:
        yield emu


def use(emu: Emulator, monkeypatch: pytest.MonkeyPatch, **extra: object) -> SchedulerXHook:
    connection = {
        "conn_type": "schedulerx",
        "login": ACCESS_KEY_ID,
        "password": ACCESS_KEY_SECRET,
        "host": emu.url,
        "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "max_retries": 0, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", json.dumps(connection))
    return SchedulerXHook()


def test_an_untrusted_certificate_is_refused_by_default(tls_emulator, monkeypatch):
    hook = use(tls_emulator, monkeypatch)
    assert tls_emulator.url.startswith("https://") and hook.settings.config.verify_ssl is True
    with pytest.raises(SchedulerXConnectionError) as caught:
        hook.get_job_instance(101, 1)
    assert "certificate" in str(caught.value).lower()
    assert sum(tls_emulator.stats.calls.values()) == 0  # nothing was sent


async def test_the_async_client_refuses_it_too(tls_emulator, monkeypatch):
    client = await use(tls_emulator, monkeypatch).get_async_client()
    try:
        with pytest.raises(SchedulerXConnectionError) as caught:
            await client.get_job_instance(101, 1)
    finally:
        await close_shared_session()
    assert "certificate" in str(caught.value).lower()
    assert sum(tls_emulator.stats.calls.values()) == 0


def test_verification_can_be_turned_off_on_purpose(tls_emulator, monkeypatch):
    hook = use(tls_emulator, monkeypatch, verify_ssl=False)
    assert hook.get_job_instance(101, hook.execute_job(101)).job_id == 101
