"""The daily workflow (infra/statemachine/daily.asl.json) read as Step Functions would run it:
every Task's resource, retries and catch, the refresh task's command and network, and its extract
and load steps driven through the real Lambda handlers (moto's S3, the local TMDB server)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from ingestion import lambda_handlers
from ingestion.lake import GENRES, MOVIE_CHANGES, MOVIE_DELETIONS, MOVIE_DETAILS
from ingestion.pipelines import run_bulk
from tests.conftest import REPO_ROOT, settings
from tests.infra.helpers import (
    ACCOUNT,
    LAKE_BUCKET,
    STACK,
    SUBNETS,
    intrinsic,
    pass_state,
    render,
    resources,
    select,
    state_machine_definition,
    template,
)
from tests.ingestion.helpers import raw_movie_ids
from warehouse.settings import reset_settings_cache

# The local cycle's command (CONTRACT §1 and §7: `tmdb refresh [--skip-ingest] ...`), with the
# ingestion left to the workflow's own extract and load steps.
REFRESH_COMMAND = ["tmdb", "refresh", "--skip-ingest"]
LAMBDA_ERRORS = {
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
}


def daily(overrides: dict[str, str] | None = None) -> dict[str, Any]:
    return state_machine_definition(overrides, name="DailyStateMachine")


def _tasks(states: dict[str, Any], top: str | None = None):
    """(top-level state that holds it, name, state) for every Task, inside Maps too."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield top or name, name, state
        if state["Type"] == "Map":
            yield from _tasks(state["ItemProcessor"]["States"], top or name)


def test_the_schedule_starts_the_workflow_and_no_longer_the_lambda() -> None:
    functions = resources("AWS::Serverless::Function")
    assert "Events" not in functions["DailyFunction"]["Properties"]
    machine = resources("AWS::Serverless::StateMachine")["DailyStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachine/daily.asl.json"
    (event,) = machine["Events"].values()
    assert event["Type"] == "Schedule"
    properties = event["Properties"]
    # No Input: the execution gets EventBridge's scheduled event, `time` included.
    assert not {"Input", "InputPath", "InputTransformer"} & properties.keys()
    assert properties["Schedule"] == {"Ref": "DailySchedule"}
    schedule = template()["Parameters"]["DailySchedule"]["Default"]
    _minute, hour, *_ = re.fullmatch(r"cron\((.+)\)", schedule).group(1).split()
    assert int(hour) >= 9  # after TMDB publishes the day's files (~08:00 UTC)
    # The failure alarm watches this state machine and reaches the alarm topic.
    alarm = resources("AWS::CloudWatch::Alarm")["DailyWorkflowFailedAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": "DailyStateMachine"}}
    ]
    assert alarm["MetricName"] == "ExecutionsFailed"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_each_task_calls_the_right_resource() -> None:
    definition = daily()
    found = {name: state for _, name, state in _tasks(definition["States"])}
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
    assert {name: state["Resource"] for name, state in found.items()} == {
        "Extract": "arn:aws:states:::lambda:invoke",
        "ListFirstPage": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        "ListNextPage": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        "LoadPage": "arn:aws:states:::lambda:invoke",
        "Refresh": "arn:aws:states:::ecs:runTask.sync",
        "NotifyFailure": "arn:aws:states:::sns:publish",
    }
    assert found["Extract"]["Parameters"]["FunctionName"] == f"{function}DailyFunction.Arn"
    assert found["LoadPage"]["Parameters"]["FunctionName"] == f"{function}LakeLoaderFunction.Arn"
    for name in ("ListFirstPage", "ListNextPage"):
        assert found[name]["Parameters"]["Bucket"] == LAKE_BUCKET
    assert found["NotifyFailure"]["Parameters"]["TopicArn"] == (
        f"arn:aws:sns:us-east-1:{ACCOUNT}:{STACK}-AlarmTopic"
    )
    # The order: extract, load, refresh, success.
    states = definition["States"]
    assert definition["StartAt"] == "Extract"
    assert states["Extract"]["Next"] == "LoadPlan"
    assert states["LoadPlan"]["Next"] == "Load"
    assert states["Load"]["Next"] == "Refresh"
    assert states[states["Refresh"]["Next"]]["Type"] == "Succeed"


def test_every_task_retries_with_backoff_and_every_failure_reaches_the_alarm_topic() -> None:
    definition = daily()
    states = definition["States"]
    for top, name, state in _tasks(states):
        assert state["Retry"], name
        for retrier in state["Retry"]:
            assert retrier["ErrorEquals"] and "States.ALL" not in retrier["ErrorEquals"], name
            assert 1 <= retrier["MaxAttempts"] <= 10, name
            assert retrier["IntervalSeconds"] >= 1, name
            assert retrier.get("BackoffRate", 2.0) >= 1, name
        # Lambda's throttles and service errors are retried apart from the function's own.
        errors = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            assert errors >= LAMBDA_ERRORS | {"States.TaskFailed"}, name
        # A Task inside a Map is caught by its Map; every top-level step has its own Catch.
        (catch,) = states[top]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if top != "NotifyFailure":
            assert catch["ResultPath"] == "$.error", name
            assert catch["Next"] == "NotifyFailure", name
    refresh_errors = {e for r in states["Refresh"]["Retry"] for e in r["ErrorEquals"]}
    assert {"AmazonECS.Unknown", "States.TaskFailed"} <= refresh_errors
    assert states["Refresh"]["TimeoutSeconds"] >= 3600

    # The failure path: the reason to the alarm topic, then a Fail state, even if SNS fails.
    notify = states["NotifyFailure"]
    assert notify["Next"] == notify["Catch"][0]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"
    failed_input = {
        "error": {"Error": "States.TaskFailed", "Cause": "dbt build: 1 of 212 tests failed"}
    }
    message = intrinsic(
        notify["Parameters"]["Message.$"],
        failed_input,
        {"Execution": {"Name": "daily-2025-07-01"}},
    )
    assert "daily-2025-07-01" in message
    assert "States.TaskFailed" in message and "1 of 212 tests failed" in message
    # The topic is the one the existing alarms use, and the workflow may publish to it.
    topic = resources("AWS::Serverless::StateMachine")["DailyStateMachine"]["Properties"]
    assert topic["DefinitionSubstitutions"]["AlarmTopicArn"] == {"Ref": "AlarmTopic"}


def _allowed(role: str) -> dict[str, list[str]]:
    (policy,) = resources("AWS::IAM::Role")[role]["Properties"]["Policies"]
    out: dict[str, list[str]] = {}
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            out.setdefault(action, []).extend(render(statement["Resource"]))
    return out


def test_refresh_is_the_cli_command_on_fargate_in_the_private_subnets() -> None:
    refresh = daily()["States"]["Refresh"]["Parameters"]
    assert refresh["LaunchType"] == "FARGATE"
    network = refresh["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert intrinsic(network["Subnets.$"], {}) == SUBNETS
    substitutions = resources("AWS::Serverless::StateMachine")["DailyStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    assert substitutions["PrivateSubnetIds"] == {"Fn::Join": [",", {"Ref": "PrivateSubnetIds"}]}
    # The API's security group: the database admits it, as it admits the API.
    assert substitutions["RefreshSecurityGroupId"] == {"Ref": "ApiSecurityGroup"}
    assert network["SecurityGroups"] == ["sg-0a1b2c3d4e5f60001"]
    assert substitutions["ClusterArn"] == {"Fn::GetAtt": ["ApiCluster", "Arn"]}
    assert substitutions["RefreshTaskDefinitionArn"] == {"Ref": "RefreshTaskDefinition"}
    assert refresh["TaskDefinition"].endswith(f":task-definition/{STACK}-refresh:1")

    tasks = resources("AWS::ECS::TaskDefinition")
    task = tasks["RefreshTaskDefinition"]["Properties"]
    assert task["RequiresCompatibilities"] == ["FARGATE"] and task["NetworkMode"] == "awsvpc"
    (container,) = task["ContainerDefinitions"]
    # The command, word for word; the image's entrypoint runs it after the S3 sync and the
    # secrets (tests/infra/test_api_bootstrap.py runs the entrypoint with a command).
    assert container["Command"] == REFRESH_COMMAND
    assert refresh.get("Overrides") is None
    (api,) = tasks["ApiTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert container["Image"] == api["Image"] == {"Ref": "ApiImageUri"}
    env = {e["Name"]: render(e["Value"]) for e in container["Environment"]}
    api_env = {e["Name"]: render(e["Value"]) for e in api["Environment"]}
    # It publishes where the API tasks sync from, with the same database secret.
    for name in ("ARTIFACTS_S3_URI", "DATABASE_URL_SECRET_ARN"):
        assert env[name] == api_env[name], name
    assert not {"DATABASE_URL", "TMDB_API_TOKEN", "GEMINI_API_KEY"} & env.keys()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'tmdb = "cli.main:app"' in pyproject  # the image's `tmdb` is the CLI

    # The refresh task may read and write the artifacts prefix, read the lake and the secret.
    bucket = "arn:${AWS::Partition}:s3:::${AWS::StackName}-lake-${AWS::AccountId}"
    allowed = _allowed("RefreshTaskRole")
    assert {f"{bucket}/api/*"} <= set(allowed["s3:PutObject"])
    assert set(allowed["s3:GetObject"]) == {f"{bucket}/api/*", f"{bucket}/raw/*"}
    assert set(allowed["secretsmanager:GetSecretValue"]) == {
        "Ref:DatabaseSecret",
        "${DatabaseSecretArn}",
    }


def test_the_workflow_role_may_do_exactly_its_steps() -> None:
    allowed = _allowed("DailyWorkflowRole")
    assert set(allowed["lambda:InvokeFunction"]) == {
        "GetAtt:DailyFunction.Arn",
        "GetAtt:LakeLoaderFunction.Arn",
    }
    assert allowed["ecs:RunTask"] == [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"
        ":task-definition/${AWS::StackName}-refresh:*"
    ]
    assert set(allowed["iam:PassRole"]) == {
        "GetAtt:RefreshTaskRole.Arn",
        "GetAtt:ApiExecutionRole.Arn",
    }
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        (rule,) = allowed[action]
        assert rule.endswith(":rule/StepFunctionsGetEventsForECSTaskRule"), action
    assert allowed["sns:Publish"] == ["Ref:AlarmTopic"]
    # The topic's own key lets CloudWatch alarms publish (alias/aws/sns does not).
    topic = resources("AWS::SNS::Topic")["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key_policy = resources("AWS::KMS::Key")["AlarmTopicKey"]["Properties"]["KeyPolicy"]
    principals = [s["Principal"] for s in key_policy["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert set(allowed["kms:GenerateDataKey"]) == {"GetAtt:AlarmTopicKey.Arn"}


def _load(definition: dict, state_input: dict, context: dict, s3) -> list[dict]:
    """Run LoadPlan and the Load map against a real S3: the loader payloads it sends."""
    states = definition["States"]
    data = {**state_input, "load": pass_state(states["LoadPlan"], state_input, context)}
    load = states["Load"]
    payloads = []
    for index, value in enumerate(data["load"]["resources"]):
        item = select(
            load["ItemSelector"], data, {"Map": {"Item": {"Index": index, "Value": value}}}
        )
        processor = load["ItemProcessor"]["States"]
        name = load["ItemProcessor"]["StartAt"]
        while processor[name]["Type"] != "Succeed":
            state = processor[name]
            if state["Type"] == "Task" and state["Resource"].endswith("listObjectsV2"):
                parameters = select(state["Parameters"], item, {})
                page = s3.list_objects_v2(**parameters)
                item["listing"] = select(state["ResultSelector"], page, {})
            elif state["Type"] == "Choice":
                (choice,) = state["Choices"]
                value_ = item
                for part in choice["Variable"][2:].split("."):
                    value_ = value_[part]
                test = next(k for k in choice if k not in ("Variable", "Next"))
                matched = value_ > choice[test] if test == "NumericGreaterThan" else value_ is True
                name = choice["Next"] if matched else state["Default"]
                continue
            elif state["Type"] == "Map":
                item["records"] = [
                    select(state["ItemSelector"], item, {"Map": {"Item": {"Index": i, "Value": v}}})
                    for i, v in enumerate(item["listing"]["page"]["Contents"])
                ]
            else:
                assert state["Resource"] == "arn:aws:states:::lambda:invoke", name
                payloads.append(select(state["Parameters"], item, {})["Payload"])
            name = state["Next"]
    return payloads


def _data_keys(s3, bucket: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="raw/tmdb/")
    return {
        item["Key"]
        for page in pages
        for item in page.get("Contents", [])
        if item["Key"].endswith(".jsonl.gz") and "/_dlt" not in item["Key"]
    }


@pytest.fixture
def s3_lake(aws_env: str, monkeypatch) -> str:
    monkeypatch.setenv("LAKE_URL", f"s3://{LAKE_BUCKET}/raw")
    s3 = boto3.client("s3", endpoint_url=aws_env)
    if LAKE_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=LAKE_BUCKET)
    # Each test starts from an empty lake (the moto server outlives a test).
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=LAKE_BUCKET, Key=item["Key"])
    return LAKE_BUCKET


def test_extract_then_load_puts_the_days_changes_into_raw(
    fake_tmdb, s3_lake, aws_env, database_url, monkeypatch
):
    """The scheduled event through Extract's payload to the real daily handler, then Load's
    listing of that day's partitions (paged) into the real loader: the day's new films land."""
    day0 = fake_tmdb(movies=150, seed=7, day=0)
    run_bulk(settings(), export_date=day0.catalogue.today)
    day0.stop()
    day1 = fake_tmdb(movies=150, seed=7, day=1)
    reset_settings_cache()
    definition = daily()
    # The day the execution started is the day the extract writes its partitions (UTC).
    started = datetime.now(UTC)
    scheduled = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": f"{day1.catalogue.date_of(1).isoformat()}T09:30:00Z",
        "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{STACK}-daily"],
        "detail": {},
    }
    s3 = boto3.client("s3", endpoint_url=aws_env)
    extract = definition["States"]["Extract"]
    payload = select(extract["Parameters"], scheduled, {})["Payload"]
    assert payload == scheduled
    before = _data_keys(s3, s3_lake)
    result = lambda_handlers.daily_handler(payload)
    assert result["changed"] > 0
    assert set(select(extract["ResultSelector"], {"Payload": result}, {})) == {
        "changed",
        "fetched",
        "missing",
    }

    context = {"Execution": {"StartTime": started.isoformat().replace("+00:00", "Z")}}
    plan = pass_state(definition["States"]["LoadPlan"], scheduled, context)
    assert plan["day"] == started.date().isoformat()
    # Every resource the daily run writes, and nothing else (the export belongs to backfills).
    assert set(plan["resources"]) == {MOVIE_CHANGES, MOVIE_DETAILS, MOVIE_DELETIONS, GENRES}

    payloads = _load(definition, scheduled, context, s3)
    urls = {url for p in payloads for url in lambda_handlers.lake_object_urls(p)}
    written = {f"s3://{s3_lake}/{key}" for key in _data_keys(s3, s3_lake) - before}
    # Every file the extract wrote, and only data files of that day's partitions (the day's
    # earlier files are sent again too: the loader skips what it has loaded).
    assert written and written <= urls
    assert all(f"/dt={plan['day']}/" in url for url in urls)
    for p in payloads:
        lambda_handlers.lake_loader_handler(p)
    added = {i for i in day1.catalogue.added_ids(1) if not day1.catalogue.details(i)["adult"]}
    assert added and added <= set(raw_movie_ids(database_url))

    # Pages of 200 keys: a day with more objects is walked page by page.
    many = [f"raw/tmdb/{GENRES}/dt=2025-07-01/{i:04d}.x.jsonl.gz" for i in range(450)]
    for key in many:
        s3.put_object(Bucket=s3_lake, Key=key, Body=b"")
    context = {"Execution": {"StartTime": "2025-07-01T09:30:00.000Z"}}
    payloads = _load(definition, scheduled, context, s3)
    assert [len(p["Records"]) for p in payloads] == [200, 200, 50]
    keys = [r["s3"]["object"]["key"] for p in payloads for r in p["Records"]]
    assert keys == sorted(many)


def test_the_task_command_is_the_cli_command_the_local_cycle_runs() -> None:
    """`tmdb refresh --skip-ingest`, as the task runs it, parses as the CLI's own command."""
    from typer.testing import CliRunner

    from cli.main import app

    program, *arguments = REFRESH_COMMAND
    assert program == "tmdb"
    result = CliRunner().invoke(app, [*arguments, "--help"])
    assert result.exit_code == 0, result.output
    assert "--skip-ingest" in result.output and "--json" in result.output
