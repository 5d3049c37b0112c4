"""Fixtures for the emulator tests: a running emulator, and a small test-side client that
signs with this package's own signing functions and sends with ``requests``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.emulator import Emulator, JobSpec

AK = "emulator-ak"
SK = "emulator-secret"
NS = "demo-namespace"
GROUP = "demo.defaultGroup"
REGION = "cn-hangzhou"
SCHEDULERX_VERSION = "2019-04-30"
STS_VERSION = "2015-04-01"


def utc_timestamp(offset_seconds: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


@dataclass
class Prepared:
    """A signed request, ready to send, that a test may still tamper with."""

    method: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class RawClient:
    """Signs requests the way Alibaba's gateway expects, with ``signing.py``."""

    url: str
    access_key_id: str = AK
    secret: str = SK
    security_token: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def v3(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        version: str = SCHEDULERX_VERSION,
        form: Mapping[str, Any] | None = None,
        date: str | None = None,
        nonce: str | None = None,
    ) -> Prepared:
        query = {k: str(v) for k, v in (params or {}).items()}
        body = b""
        headers = {
            "host": self.host,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": date or utc_timestamp(),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        }
        if form:
            body = signing.canonical_query({k: str(v) for k, v in form.items()}).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        if self.security_token:
            headers["x-acs-security-token"] = self.security_token
        headers["x-acs-content-sha256"] = signing.sha256_hex(body)
        headers["Authorization"] = signing.sign_v3(
            method,
            "/",
            query,
            headers,
            headers["x-acs-content-sha256"],
            self.access_key_id,
            self.secret,
        )
        return Prepared(method, query, headers, body)

    def v1(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        version: str = SCHEDULERX_VERSION,
        timestamp: str | None = None,
        nonce: str | None = None,
    ) -> Prepared:
        query = {k: str(v) for k, v in (params or {}).items()}
        query.update(
            {
                "Action": action,
                "Version": version,
                "Format": "JSON",
                "Timestamp": timestamp or utc_timestamp(),
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureNonce": nonce or uuid.uuid4().hex,
                "AccessKeyId": self.access_key_id,
            }
        )
        if self.security_token:
            query["SecurityToken"] = self.security_token
        query["Signature"] = signing.sign_v1(method, query, self.secret)
        return Prepared(method, query, {}, b"")

    def send(self, prepared: Prepared, timeout: float = 10) -> requests.Response:
        return self.session.request(
            prepared.method,
            self.url + "/",
            params=prepared.params,
            headers=prepared.headers,
            data=prepared.body or None,
            timeout=timeout,
        )

    def call(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        scheme: str = "v3",
        method: str = "GET",
        common: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Sign (V3 or V1) and send; ``common`` adds Namespace, GroupId and RegionId."""
        merged: dict[str, Any] = {}
        if common:
            merged.update(Namespace=NS, GroupId=GROUP, RegionId=REGION)
        merged.update(params or {})
        build = self.v3 if scheme == "v3" else self.v1
        return self.send(build(action, merged, method=method, **kwargs))

    def data(self, action: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Call and return ``Data``, asserting a successful business reply."""
        response = self.call(action, params, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["Success"] is True, body
        return body.get("Data")


def standard_jobs() -> list[JobSpec]:
    return [
        JobSpec(
            job_id=101,
            name="nightly-etl",
            wait_seconds=0.2,
            run_seconds=1.0,
            outcome="success",
            result="ok",
            logs=["line 1", "line 2"],
        ),
        JobSpec(job_id=201, name="quick-success", wait_seconds=0.1, run_seconds=0.1),
        JobSpec(
            job_id=202,
            name="quick-failure",
            wait_seconds=0.1,
            run_seconds=0.1,
            outcome="failed",
        ),
        JobSpec(
            job_id=203,
            name="quick-reject",
            wait_seconds=0.1,
            run_seconds=0.1,
            outcome="rejected",
        ),
        JobSpec(
            job_id=204,
            name="quick-partial",
            wait_seconds=0.1,
            run_seconds=0.1,
            outcome="partial_failed",
        ),
        JobSpec(
            job_id=205,
            name="long-running",
            wait_seconds=0.05,
            run_seconds=30,
            logs=["a", "b", "c"],
        ),
        JobSpec(job_id=206, name="disabled", enabled=False, wait_seconds=0, run_seconds=0),
    ]


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with custom settings (the standard jobs unless ``jobs`` is given);
    they are stopped at teardown."""
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        kwargs.setdefault("jobs", standard_jobs())
        # Most tests start a job several times in a row; the one-second rule has its own.
        kwargs.setdefault("one_start_per_second", False)
        emu = Emulator(**kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A running emulator with the standard jobs, seeded faults, and default credentials."""
    return make_emulator(access_key_id=AK, access_key_secret=SK, seed=7)


@pytest.fixture
def make_raw() -> Iterator[Callable[..., RawClient]]:
    """Build test-side signing clients: ``make_raw(url, access_key_id=..., secret=...,
    security_token=...)``."""
    clients: list[RawClient] = []

    def make(url: str, **kwargs: Any) -> RawClient:
        client = RawClient(url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.session.close()


@pytest.fixture
def raw(emulator: Emulator, make_raw: Callable[..., RawClient]) -> RawClient:
    """A test-side signing client for ``emulator`` with its static AccessKey."""
    return make_raw(emulator.url)


def _wait_for_status(
    client: RawClient, job_id: int, instance_id: int, status: int, timeout: float = 5
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = client.data("GetJobInstance", {"JobId": job_id, "JobInstanceId": instance_id})
        detail: dict[str, Any] = data["JobInstanceDetail"]
        if detail["Status"] == status or time.monotonic() > deadline:
            assert detail["Status"] == status, detail
            return detail
        time.sleep(0.02)


@pytest.fixture
def wait_status() -> Callable[..., dict[str, Any]]:
    """``wait_status(client, job_id, instance_id, status)``: poll GetJobInstance until the
    instance has that status, and return its detail."""
    return _wait_for_status
