"""No secret leaks: the example DAGs run with every secret set to a unique marker (the
AccessKey secret, an STS token, an OIDC token; and the STS credentials and signatures made at
run time), through successes, failures, faults and refusals, and the markers are looked for
in everything the runs left behind: console and task logs (the emulator's own included), the
metadata database (XComs, notes, trigger rows, rendered fields) and the reprs of the objects
involved."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx import signing
from airflow_provider_schedulerx.emulator import Emulator, JobSpec
from airflow_provider_schedulerx.hooks.schedulerx import SchedulerXHook
from tests.conftest import GROUP_ID, NAMESPACE, TEST_JOBS
from tests.dags.test_example_dags import printed, task_states
from tests.dags.test_example_dags import run_example as run

pytestmark = [pytest.mark.dag, pytest.mark.usefixtures("airflow_db")]

ACCESS_KEY_ID = "LTAIleakcheck0000001"
SECRET_MARKER = "LEAKMARKER-ak-secret-3b9d51"
WRONG_SECRET_MARKER = "LEAKMARKER-wrong-secret-77c0a2"
STS_TOKEN_MARKER = "LEAKMARKER-sts-token-e41f08"
OIDC_TOKEN_MARKER = "LEAKMARKER-oidc-token-9a6c3d"
#: A password with the characters URL-encoding changes, templated into instance_parameters.
TEMPLATED_MARKER = "LEAKMARKER+templ/ated=pw42"
ROLE_ARN = "acs:ram::123456789012:role/airflow-schedulerx"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=SECRET_MARKER,
        jobs=[*TEST_JOBS, JobSpec(job_id=401, name="new-status", wait_seconds=0.1, run_seconds=0.2)],
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        oidc_tokens=[OIDC_TOKEN_MARKER],
        sts_max_lifetime=3.0,
        seed=5,
    )
    with emu:
        yield emu


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature computed during the test (V1 signatures, V3 authorizations)."""
    made: list[str] = []

    def recording(sign: Any) -> Any:
        def sign_and_record(*args: Any, **kwargs: Any) -> str:
            signature = sign(*args, **kwargs)
            made.append(signature.rsplit("Signature=", 1)[-1])
            return signature

        return sign_and_record

    for name in ("sign_v1", "sign_v3", "sign_v3_canonical"):
        monkeypatch.setattr(signing, name, recording(getattr(signing, name)))
    monkeypatch.setattr(signing.V3Signer, "authorization", recording(signing.V3Signer.authorization))
    return made


def connection(
    emu: Emulator, *, login: str | None = ACCESS_KEY_ID, password: str | None = SECRET_MARKER, **extra: Any
) -> str:
    return json.dumps(
        {
            "conn_type": "schedulerx",
            "login": login,
            "password": password,
            "host": emu.url,
            "extra": {"namespace": NAMESPACE, "group_id": GROUP_ID, "backoff": 0.01, **extra},
        }
    )


def forms(secret: str) -> set[str]:
    """A secret as it could show up: as is, URL-encoded, or base64-encoded."""
    from urllib.parse import quote

    return {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}


def leftovers() -> str:
    """Everything the runs wrote to disk under the Airflow home: task logs and the whole
    metadata database, deleted rows and write-ahead log included."""
    home = Path(os.environ["AIRFLOW_HOME"])
    parts = []
    for path in sorted(home.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def test_no_secret_shows_anywhere(emulator, signatures, monkeypatch, capfd, caplog, tmp_path):
    # Everything this provider logs, and urllib3's request lines, down to DEBUG; Airflow's own
    # debug output is not this provider's (Airflow 3.0's Task SDK logs the values it is asked
    # to mask at DEBUG level).
    for logger in ("airflow_provider_schedulerx", "urllib3"):
        caplog.set_level("DEBUG", logger=logger)
    outcomes = {}

    # An AccessKey, signed V3; success, failure, a deferred sensor, branching, faults.
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection(emulator))
    emulator.faults.set("reset", count=2, actions=["GetJobInstance"])
    emulator.faults.set("server_error", count=2, actions=["GetJobInstance"])
    outcomes["v3 success"] = run("example_schedulerx_execute_job", 101, run_job={"poll_interval": 0.1})
    outcomes["v3 failure"] = run("example_schedulerx_execute_job", 102, run_job={"poll_interval": 0.1})
    outcomes["v3 deferred"] = run(
        "example_schedulerx_start_and_sense", 101, wait_for_job={"poke_interval": 0.1}
    )
    outcomes["v3 branch"] = run("example_schedulerx_report_and_branch", 102)

    # A password templated into the job's parameters: SchedulerX echoes them, the provider
    # redacts them (XCom, trigger events, urllib3's URL-encoded request lines).
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_VAULT",
        json.dumps({"conn_type": "generic", "login": "vault", "password": TEMPLATED_MARKER}),
    )
    templated = {"instance_parameters": "pw={{ conn.schedulerx_vault.password }}", "poll_interval": 0.1}
    outcomes["templated poll"] = run("example_schedulerx_execute_job", 101, run_job=templated)
    outcomes["templated deferred"] = run(
        "example_schedulerx_execute_job", 101, run_job={**templated, "deferrable": True}
    )
    echoed = [instance.parameters for instance in emulator.instances(101)]
    assert f"pw={TEMPLATED_MARKER}" in echoed  # the job did get the secret

    # V1 puts the signature (and an STS token) in the URL; assume a role, so the run holds
    # STS credentials it obtained itself; a dropped connection and an expired token on the way.
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection(emulator, signature_version="v1", role_arn=ROLE_ARN, sts_endpoint=emulator.url),
    )
    emulator.faults.set("reset", count=1, actions=["GetJobInstance"])
    emulator.faults.set("expired_credentials", count=1, actions=["GetJobInstance"])
    outcomes["v1 role success"] = run("example_schedulerx_execute_job", 101, run_job={"poll_interval": 0.1})
    outcomes["v1 role deferred failure"] = run(
        "example_schedulerx_start_and_sense", 102, wait_for_job={"poke_interval": 0.1}
    )

    # RRSA: an OIDC token from a file, exchanged for STS credentials.
    token_file = tmp_path / "token"
    token_file.write_text(OIDC_TOKEN_MARKER)
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", emulator.oidc_provider_arn)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("ALIBABA_CLOUD_STS_ENDPOINT", emulator.url)
    monkeypatch.setenv("AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection(emulator, login=None, password=None))
    outcomes["oidc success"] = run("example_schedulerx_execute_job", 101, run_job={"poll_interval": 0.1})

    # A refusal whose reply echoes what was signed, V1 query and STS token included: valid
    # STS credentials from the emulator with a wrong secret.
    sts = emulator.credentials.issue_sts(ROLE_ARN, "leak-check", 900)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection(
            emulator,
            login=sts.access_key_id,
            password=WRONG_SECRET_MARKER,
            signature_version="v1",
            security_token=sts.security_token,
        ),
    )
    outcomes["v1 wrong secret"] = run("example_schedulerx_execute_job", 101)
    # An STS token that does not belong to the AccessKey, in the URL.
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT",
        connection(emulator, signature_version="v1", security_token=STS_TOKEN_MARKER),
    )
    outcomes["v1 foreign token"] = run("example_schedulerx_execute_job", 101)

    output = printed(capfd) + caplog.text
    # Airflow 3.0's dag.test() prints, at DEBUG level, each value a task asks it to mask and
    # the rendered fields before it masks them: its own echo of the task runner's messages,
    # not something this provider logs (Airflow 3.3 prints neither).
    airflow_echoes = ("MaskSecret(value=", "SetRenderedFields(rendered_fields=")
    output = "\n".join(
        line for line in output.splitlines() if not any(echo in line for echo in airflow_echoes)
    )
    states = {label: task_states(dag_run) for label, dag_run in outcomes.items()}
    assert (
        states["v3 success"]
        == states["v1 role success"]
        == states["oidc success"]
        == states["templated poll"]
        == states["templated deferred"]
        == {"run_job": "success"}
    )
    assert (
        states["v3 failure"]
        == states["v1 wrong secret"]
        == states["v1 foreign token"]
        == {"run_job": "failed"}
    )
    assert states["v3 deferred"] == {"start_job": "success", "wait_for_job": "success"}
    assert states["v1 role deferred failure"] == {"start_job": "success", "wait_for_job": "failed"}
    assert "AccessKey Secret does not match" in output  # the refusals were reported
    assert "does not belong to this AccessKey ID" in output

    issued = list(emulator.credentials.issued)
    assert len(issued) >= 3 and len(signatures) >= 40
    assert any(len(signature) == 64 for signature in signatures)  # V3's hex signatures too
    secrets = {
        SECRET_MARKER,
        WRONG_SECRET_MARKER,
        STS_TOKEN_MARKER,
        OIDC_TOKEN_MARKER,
        TEMPLATED_MARKER,
        *signatures,
    }
    for credential in issued:
        secrets |= {credential.access_key_secret, credential.security_token or ""}
    secrets.discard("")

    hook = SchedulerXHook()
    reprs = " ".join(
        repr(thing)
        for thing in (hook, hook.settings, hook.settings.config, hook.client, hook.client.credentials)
    )
    haystacks = {
        "console and emulator logs": output,
        "Airflow home (logs, metadata DB)": leftovers(),
        "reprs": reprs,
    }
    print(  # shown with pytest -s: the figures of this run
        f"\n{len(outcomes)} DAG runs, {len(secrets)} secret values ({len(signatures)} signatures, "
        f"{len(issued)} STS credentials), searched in "
        + ", ".join(f"{where} ({len(text):,} chars)" for where, text in haystacks.items())
    )
    for where, text in haystacks.items():
        for secret in secrets:
            for form in forms(secret):
                assert form not in text, f"a secret ({secret[:14]}...) shows in the {where}"
    assert re.search(r"LEAKMARKER", output) is None
    # The haystacks hold what the runs wrote: the emulator's log lines, the instances'
    # results in XCom, the task logs.
    assert f"ExecuteJob ak={ACCESS_KEY_ID}" in output
    assert "42 rows loaded" in haystacks["Airflow home (logs, metadata DB)"]


def test_credentials_obtained_at_run_time_are_masked_in_logs(emulator, monkeypatch):
    from tests.airflow_versions import redact

    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHEDULERX_DEFAULT", connection(emulator, role_arn=ROLE_ARN, sts_endpoint=emulator.url)
    )
    hook = SchedulerXHook()
    hook.get_job_instance(101, hook.execute_job(101))
    (credential,) = emulator.credentials.issued
    for secret in (SECRET_MARKER, credential.access_key_secret, credential.security_token):
        assert secret not in str(redact(f"value: {secret}"))
