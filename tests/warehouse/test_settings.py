"""Configuration reaches code only through `Settings`: frozen, complete, never written back into
the process environment; dbt gets its profile and paths as arguments."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from tests.conftest import REPO_ROOT
from warehouse import dbt_runner
from warehouse.settings import BUNDLED_DBT_PROJECT, Settings

PRODUCT = ("api", "cli", "infra", "ingestion", "ml", "warehouse", "bench")
WRITERS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def _writes_to_environ(tree: ast.AST) -> list[int]:
    """Lines that assign, delete or mutate `os.environ`, or call `os.putenv`/`os.unsetenv`."""

    def is_environ(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )

    lines = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in WRITERS and is_environ(node.func.value):
                lines.append(node.lineno)
            if (
                node.func.attr in ("putenv", "unsetenv")
                and getattr(node.func.value, "id", "") == "os"
            ):
                lines.append(node.lineno)
    return sorted(lines)


def test_the_scanner_sees_each_kind_of_write() -> None:
    code = (
        "import os\nos.environ['A'] = '1'\nos.environ.update(B='2')\n"
        "os.environ.setdefault('C', '3')\ndel os.environ['A']\nos.putenv('D', '4')\n"
        "x = os.environ.get('E')\n"
    )
    assert _writes_to_environ(ast.parse(code)) == [2, 3, 4, 5, 6]


def test_no_product_code_writes_the_environment() -> None:
    offenders = []
    for package in PRODUCT:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offenders += [f"{path.relative_to(REPO_ROOT)}:{n}" for n in _writes_to_environ(tree)]
    assert offenders == []


def test_settings_are_frozen_and_variants_are_copies() -> None:
    settings = Settings(LAKE_URL="./lake")
    with pytest.raises(ValidationError):
        settings.lake_url = "s3://elsewhere"
    copy = settings.model_copy(update={"lake_url": "s3://elsewhere"})
    assert (settings.lake_url, copy.lake_url) == ("./lake", "s3://elsewhere")


def test_empty_values_mean_unset_and_the_region_has_two_names(monkeypatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    settings = Settings()
    assert settings.gemini_api_key is None
    assert settings.aws_region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    assert Settings().aws_region == "us-east-2"


def test_dbt_paths_default_to_the_checkout_and_can_move(tmp_path) -> None:
    settings = Settings()
    assert settings.dbt_project_dir == REPO_ROOT
    assert settings.dbt_target_path == REPO_ROOT / "target"
    moved = Settings(DBT_TARGET_PATH=tmp_path / "t", DBT_PROJECT_DIR=tmp_path)
    assert (moved.dbt_project_dir, moved.dbt_target_path) == (tmp_path, tmp_path / "t")
    bundled = Settings(DBT_PROJECT_DIR=BUNDLED_DBT_PROJECT, TMDB_STATE_DIR=tmp_path / "state")
    assert bundled.dbt_target_path == tmp_path / "state" / "dbt" / "target"


def test_the_resolved_profile_keeps_the_root_file_and_fills_the_connection() -> None:
    root = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())["tmdb"]["outputs"]
    url = "postgresql://owner:p%40ss@db.example.com:6543/movies?sslmode=require"
    remote = Settings(DATABASE_URL=url)
    profile = dbt_runner.resolved_profile(remote, url)["tmdb"]
    assert profile["target"] == "remote"
    output = profile["outputs"]["remote"]
    assert output | {} == {
        **root["remote"],
        "host": "db.example.com",
        "port": 6543,
        "user": "owner",
        "password": "p@ss",
        "dbname": "movies",
        "sslmode": "require",
    }
    socket = "postgresql://postgres@/tmdb?host=/tmp/pg-socket"
    embedded = dbt_runner.resolved_profile(Settings(), socket)["tmdb"]
    assert embedded["target"] == "embedded"
    assert embedded["outputs"]["embedded"]["host"] == "/tmp/pg-socket"
    assert embedded["outputs"]["embedded"]["schema"] == root["embedded"]["schema"]


def test_the_profile_file_is_private_and_gone_after_the_run() -> None:
    profile = {"tmdb": {"target": "x", "outputs": {"x": {"password": "secret"}}}}
    with dbt_runner._profiles_dir(profile) as folder:
        path = Path(folder) / "profiles.yml"
        assert yaml.safe_load(path.read_text()) == profile
        assert path.stat().st_mode & 0o077 == 0
        assert os.stat(folder).st_mode & 0o077 == 0
    assert not Path(folder).exists()


def test_dbt_is_given_its_paths_per_command() -> None:
    assert dbt_runner._accepts(["build", "--select", "dim_movies"], "target_path")
    assert dbt_runner._accepts(["docs", "generate"], "target_path")
    assert not dbt_runner._accepts(["debug"], "target_path")
    assert not dbt_runner._accepts([], "target_path")


def test_secrets_fill_a_copy_of_the_settings(aws_env) -> None:
    import uuid

    import boto3

    from ingestion.aws_secrets import with_secrets

    client = boto3.client("secretsmanager", endpoint_url=aws_env)
    arn = client.create_secret(Name=f"s-{uuid.uuid4().hex[:8]}", SecretString='{"token": "t0k"}')
    settings = Settings(TMDB_API_TOKEN_SECRET_ARN=arn["ARN"], TMDB_API_TOKEN=SecretStr("old"))
    resolved = with_secrets(settings)
    assert resolved.tmdb_api_token.get_secret_value() == "t0k"
    assert settings.tmdb_api_token.get_secret_value() == "old"
    assert "TMDB_API_TOKEN" not in os.environ or os.environ["TMDB_API_TOKEN"] != "t0k"
