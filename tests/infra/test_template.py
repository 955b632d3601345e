"""infra/template.yaml and the backfill state machine, checked statically and against the real
handlers (run locally: the local TMDB server, a folder lake; nothing reaches AWS or TMDB)."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ingestion import lambda_handlers
from tests.infra.helpers import (
    LAKE_BUCKET,
    TEMPLATE,
    pass_state,
    render,
    resources,
    select,
    state_machine_definition,
    template,
)

FUNCTIONS = "AWS::Serverless::Function"
BULK_EVENT_KEYS = {"ids", "export_date", "offset", "count", "min_popularity"}


def test_cfn_lint_passes_offline() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _handler_name(function: dict) -> str:
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    (name,) = properties["ImageConfig"]["Command"]
    return name


def test_every_named_handler_exists_and_takes_event_and_context() -> None:
    names = {_handler_name(f) for f in resources(FUNCTIONS).values()}
    assert names == {
        "ingestion.lambda_handlers.bulk_chunk_handler",
        "ingestion.lambda_handlers.daily_handler",
        "ingestion.lambda_handlers.lake_loader_handler",
    }
    for name in names:
        module, _, attribute = name.rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        assert callable(handler)
        inspect.signature(handler).bind({}, SimpleNamespace(aws_request_id="x"))
    dockerfile = (TEMPLATE.parent / "lambda.Dockerfile").read_text()
    cmd = re.search(r'^CMD \["([^"]+)"\]', dockerfile, re.M).group(1)
    assert cmd in names


def test_functions_are_images_with_limits_dead_letters_and_no_plain_secrets() -> None:
    functions = resources(FUNCTIONS)
    env_globals = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert render(env_globals["LAKE_URL"]) == ["s3://${AWS::StackName}-lake-${AWS::AccountId}/raw"]
    assert env_globals["RUNTIME__DLTHUB_TELEMETRY"] == "false"
    for name, function in functions.items():
        properties = function["Properties"]
        assert function["Metadata"]["Dockerfile"] == "infra/lambda.Dockerfile", name
        assert properties["Timeout"] == 900, name
        assert "ReservedConcurrentExecutions" in properties, name
        destination = properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert destination["Type"] == "SQS", name
        variables = properties["Environment"]["Variables"]
        assert not {"TMDB_API_TOKEN", "TMDB_API_KEY", "DATABASE_URL"} & variables.keys(), name
        for key, value in variables.items():
            if key.endswith("_SECRET_ARN"):
                assert all(r.startswith("Ref:") for r in render(value)), (name, key)
    extractors = ("BulkChunkFunction", "DailyFunction")
    for name in extractors:
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert "TMDB_RATE_LIMIT_RPS" in variables
        assert "TMDB_API_TOKEN_SECRET_ARN" in variables
    loader = functions["LakeLoaderFunction"]["Properties"]["Environment"]["Variables"]
    assert "DATABASE_URL_SECRET_ARN" in loader
    assert functions["BulkChunkFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "BulkWorkers"
    }


def test_rate_budget_and_chunk_sizing_defaults() -> None:
    parameters = template()["Parameters"]
    total = parameters["TmdbTotalRps"]["Default"]
    per_worker = parameters["TmdbWorkerRps"]["Default"]
    workers, chunk = parameters["BulkWorkers"]["Default"], parameters["BulkChunkSize"]["Default"]
    daily_rps = parameters["TmdbDailyRps"]["Default"]
    daily = resources(FUNCTIONS)["DailyFunction"]["Properties"]
    assert daily["ReservedConcurrentExecutions"] == 1
    assert daily["Environment"]["Variables"]["TMDB_RATE_LIMIT_RPS"] == {"Ref": "TmdbDailyRps"}
    # The bulk fleet at full speed, and the daily run, each stay under TMDB's limit (docs/deploy.md
    # pauses the daily rule while a backfill runs).
    assert workers * per_worker <= total
    assert daily_rps <= total
    # A heavy day (~20,000 changed ids) fits one daily invocation with a fifth to spare.
    assert 20_000 / daily_rps <= 900 * 0.8
    # A chunk fits a 15-minute invocation at the worker's rate with a third to spare.
    assert chunk <= 900 * per_worker * 2 / 3
    assert parameters["BulkTotalIds"]["Default"] / chunk <= 1000


def _s3_notification(bucket: str, key: str) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2025-07-01T09:41:07.123Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "LakeObjectCreated",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key.replace("=", "%3D"), "size": 1234, "sequencer": "0A"},
                },
            }
        ]
    }


def test_s3_trigger_filter_matches_the_lake_layout_and_reaches_the_loader() -> None:
    loader = resources(FUNCTIONS)["LakeLoaderFunction"]["Properties"]
    (event,) = loader["Events"].values()
    assert event["Type"] == "S3"
    assert event["Properties"]["Bucket"] == {"Ref": "LakeBucket"}
    assert event["Properties"]["Events"] == "s3:ObjectCreated:*"
    rules = {r["Name"]: r["Value"] for r in event["Properties"]["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "raw/tmdb/", "suffix": ".jsonl.gz"}
    # LAKE_URL's path + the lake's dataset folder is exactly the filter's prefix.
    lake_url = render(template()["Globals"]["Function"]["Environment"]["Variables"]["LAKE_URL"])[0]
    assert lake_url.split("/", 3)[3] + "/tmdb/" == rules["prefix"]

    name = "movie_details/dt=2025-07-01/1751362867.0427.a1b2c3d4e5"
    key = f"{rules['prefix']}{name}{rules['suffix']}"
    event = _s3_notification(LAKE_BUCKET, key)
    assert lambda_handlers.lake_object_urls(event) == [f"s3://{LAKE_BUCKET}/{key}"]
    # dlt's own bookkeeping under the same prefix is never loaded.
    assert (
        lambda_handlers.lake_object_urls(
            _s3_notification(LAKE_BUCKET, "raw/tmdb/_dlt_loads/1751362867.0427.jsonl.gz")
        )
        == []
    )


def _run_until_fetch(definition: dict, execution_input: dict) -> tuple[dict, list[dict]]:
    """Defaults → ApplyInput → CheckInput → PlanChunks, then the FetchChunks items."""
    states = definition["States"]
    data = execution_input
    name = definition["StartAt"]
    while states[name]["Type"] in ("Pass", "Choice"):
        state = states[name]
        if state["Type"] == "Choice":
            (choice,) = state["Choices"]
            assert choice["Variable"] == "$.export_date" and choice["IsPresent"] is False
            name = choice["Next"] if "export_date" not in data else state["Default"]
            continue
        data = pass_state(state, data, {})
        name = state["Next"]
    fetch = states[name]
    if fetch["Type"] == "Fail":
        return {"failed": fetch["Error"]}, []
    assert fetch["Type"] == "Map", name
    items = [
        select(fetch["ItemSelector"], data, {"Map": {"Item": {"Index": i, "Value": value}}})
        for i, value in enumerate(data[fetch["ItemsPath"][2:]])
    ]
    return data, items


def test_backfill_map_items_are_what_bulk_chunk_handler_accepts() -> None:
    definition = state_machine_definition()
    fetch = definition["States"]["FetchChunks"]
    assert fetch["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    (task,) = fetch["ItemProcessor"]["States"].values()
    assert task["Parameters"]["FunctionName"].endswith(":function:BulkChunkFunction.Arn")
    assert task["Parameters"]["Payload.$"] == "$"
    assert any("Lambda.TooManyRequestsException" in r["ErrorEquals"] for r in task["Retry"])

    data, items = _run_until_fetch(definition, {"export_date": "2025-07-01"})
    # Bounded: the map's concurrency defaults to the bulk function's reserved concurrency.
    assert fetch["MaxConcurrencyPath"] == "$.max_workers"
    assert data["max_workers"] == template()["Parameters"]["BulkWorkers"]["Default"]
    chunk = template()["Parameters"]["BulkChunkSize"]["Default"]
    total = template()["Parameters"]["BulkTotalIds"]["Default"]
    assert len(items) == -(-total // chunk)
    assert items[0] == {"export_date": "2025-07-01", "offset": 0, "count": chunk}
    assert items[-1]["offset"] + items[-1]["count"] >= total
    assert all(set(item) <= BULK_EVENT_KEYS for item in items)
    # Contiguous, non-overlapping slices.
    assert [i["offset"] for i in items] == list(range(0, total, chunk))

    failed = definition["States"]["CheckInput"]["Choices"][0]["Next"]
    assert definition["States"][failed]["Type"] == "Fail"
    assert _run_until_fetch(definition, {}) == ({"failed": "InputError"}, [])


def test_backfill_items_fetch_every_export_id_through_the_real_handler(fake_tmdb) -> None:
    """The map's items, small, through `bulk_chunk_handler` against the local TMDB server."""
    server = fake_tmdb(movies=120, seed=11)
    export_date = server.catalogue.date_of(0).isoformat()
    definition = state_machine_definition()
    _, items = _run_until_fetch(
        definition, {"export_date": export_date, "total_ids": 130, "chunk_size": 50}
    )
    assert [i["offset"] for i in items] == [0, 50, 100]
    results = [lambda_handlers.bulk_chunk_handler(item, None) for item in items]
    expected = len(server.catalogue.movie_ids(include_adult=False))
    assert sum(r["ids"] for r in results) == expected
    assert sum(r["fetched"] + r["missing"] for r in results) == expected


def test_backfill_then_sweeps_the_lake_through_the_loader() -> None:
    definition = state_machine_definition()
    assert definition["States"]["FetchChunks"]["Next"] == "LoadLake"
    load = definition["States"]["LoadLake"]
    reader = load["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert reader["Parameters"] == {"Bucket": LAKE_BUCKET, "Prefix": "raw/tmdb/"}
    processor = load["ItemProcessor"]
    key = "raw/tmdb/movie_details/dt=2025-07-01/1751362867.0427.a1b2c3d4e5.jsonl.gz"
    listed = {"Key": key, "Size": 10, "Etag": '"x"', "StorageClass": "STANDARD"}
    item = select(load["ItemSelector"], {}, {"Map": {"Item": {"Index": 0, "Value": listed}}})
    state = processor["States"][processor["StartAt"]]
    event = pass_state(state, item, {})
    task = processor["States"][state["Next"]]
    assert task["Parameters"]["FunctionName"].endswith(":function:LakeLoaderFunction.Arn")
    assert lambda_handlers.lake_object_urls(event) == [f"s3://{LAKE_BUCKET}/{key}"]
    assert load["MaxConcurrencyPath"] == "$.loader_concurrency"


def _statements(policies) -> list[dict]:
    out = []
    for policy in policies if isinstance(policies, list) else [policies]:
        if "Fn::If" in policy:
            branches = policy["Fn::If"][1:]
            out += _statements([b for b in branches if b != {"Ref": "AWS::NoValue"}])
            continue
        document = policy.get("PolicyDocument", policy)
        statements = document["Statement"]
        out += statements if isinstance(statements, list) else [statements]
    return out


def _all_allow_statements() -> dict[str, list[dict]]:
    found = {}
    for name, function in resources(FUNCTIONS).items():
        found[name] = _statements(function["Properties"]["Policies"])
    for name, role in resources("AWS::IAM::Role").items():
        found[name] = _statements(role["Properties"].get("Policies", []))
    return {n: [s for s in st if s["Effect"] == "Allow"] for n, st in found.items()}


# Actions AWS only grants on "*" (none used today; logs/xray come from managed policies).
STAR_RESOURCE_ACTIONS = {"logs:CreateLogGroup", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_iam_has_no_wildcard_actions_or_resources() -> None:
    for name, statements in _all_allow_statements().items():
        assert statements or name == "ApiExecutionRole", name
        for statement in statements:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert all(a != "*" and not a.endswith(":*") for a in actions), (name, statement)
            resources_ = render(statement["Resource"])
            if "*" in resources_:
                assert set(actions) <= STAR_RESOURCE_ACTIONS, (name, statement)


def _by_service(statements: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            out.setdefault(action.split(":")[0], set()).update(render(statement["Resource"]))
    return out


BUCKET_ARN = "arn:${AWS::Partition}:s3:::${AWS::StackName}-lake-${AWS::AccountId}"


def test_each_function_reaches_only_its_prefix_secret_and_queue() -> None:
    statements = _all_allow_statements()
    functions = resources(FUNCTIONS)
    own_secret = {
        "BulkChunkFunction": {"Ref:TmdbApiTokenSecret"},
        "DailyFunction": {"Ref:TmdbApiTokenSecret"},
        "LakeLoaderFunction": {"Ref:DatabaseSecret", "Ref:DatabaseSecretArn"},
    }
    for name, function in functions.items():
        access = _by_service(statements[name])
        assert set(access) == {"s3", "secretsmanager", "sqs"}, name
        assert access["secretsmanager"] == own_secret[name], name
        destination = function["Properties"]["EventInvokeConfig"]["DestinationConfig"]
        assert access["sqs"] == set(render(destination["OnFailure"]["Destination"])), name
        for resource in access["s3"]:
            assert resource == BUCKET_ARN or resource.startswith(f"{BUCKET_ARN}/raw/"), name
        for statement in statements[name]:
            if "s3:ListBucket" in statement["Action"]:
                prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
                assert all(p == "raw" or p.startswith("raw/") for p in prefixes), name
    loader_actions = {a for s in statements["LakeLoaderFunction"] for a in s["Action"]}
    assert loader_actions == {
        "s3:GetObject",
        "s3:ListBucket",
        "secretsmanager:GetSecretValue",
        "sqs:SendMessage",
    }
    for name in ("BulkChunkFunction", "DailyFunction"):
        actions = {a for s in statements[name] for a in s["Action"]}
        assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket"} <= actions
    # The extractors never see the database; the loader never sees the TMDB token.
    assert "VpcConfig" not in functions["BulkChunkFunction"]["Properties"]
    backfill = _by_service(statements["BackfillRole"])
    assert backfill["lambda"] == {"GetAtt:BulkChunkFunction.Arn", "GetAtt:LakeLoaderFunction.Arn"}


def test_lake_bucket_is_private_encrypted_versioned_with_lifecycle() -> None:
    bucket = resources("AWS::S3::Bucket")["LakeBucket"]["Properties"]
    assert render(bucket["BucketName"]) == ["${AWS::StackName}-lake-${AWS::AccountId}"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    raw = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "raw/tmdb/"]
    assert raw and raw[0]["Transitions"]
    # Instant-retrieval classes only: reload-lake must read old partitions without a restore.
    assert {t["StorageClass"] for t in raw[0]["Transitions"]} <= {
        "STANDARD_IA",
        "INTELLIGENT_TIERING",
        "GLACIER_IR",
    }


@pytest.mark.parametrize("resource", ["Database", "DatabaseSubnetGroup", "DatabaseSecurityGroup"])
def test_database_is_created_only_without_an_endpoint(resource: str) -> None:
    tpl = template()
    assert tpl["Resources"][resource]["Condition"] == "CreateDatabase"
    assert tpl["Conditions"]["CreateDatabase"] == {"Fn::Equals": [{"Ref": "DatabaseEndpoint"}, ""]}


def test_api_behind_https_with_health_check_and_s3_artifacts() -> None:
    listener = resources("AWS::ElasticLoadBalancingV2::Listener")["ApiHttpsListener"]
    assert listener["Properties"]["Protocol"] == "HTTPS"
    (certificate,) = listener["Properties"]["Certificates"]
    assert certificate == {"CertificateArn": {"Ref": "ApiCertificateArn"}}
    group = resources("AWS::ElasticLoadBalancingV2::TargetGroup")["ApiTargetGroup"]["Properties"]
    assert group["HealthCheckPath"] == "/health"
    task = resources("AWS::ECS::TaskDefinition")["ApiTaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert render(env["ARTIFACTS_S3_URI"]) == ["s3://${AWS::StackName}-lake-${AWS::AccountId}/api"]
    # The API task may read its artifacts prefix only, not the raw lake.
    reads = _by_service(_all_allow_statements()["ApiTaskRole"])["s3"]
    assert reads == {BUCKET_ARN, f"{BUCKET_ARN}/api/*"}
    dockerfile = (TEMPLATE.parent / "api.Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
