"""Secrets for AWS: when a `*_SECRET_ARN` setting is set, the secret's value comes from Secrets
Manager.

Secrets never sit in a function's or a task's environment in plain text. A secret may hold the
value itself or JSON: `{"TMDB_API_TOKEN": ...}` / `{"token": ...}`, or RDS's own shape
(`username`, `password`, `host`, `port`, `dbname`) for the database. The result is a copy of the
settings with the secret fields filled in; the process environment is left alone.
"""

from __future__ import annotations

import json
from functools import cache
from urllib.parse import quote

from pydantic import SecretStr

from warehouse.settings import Settings

# secret field ← field naming the secret's ARN, and the variable name the secret may use
SECRET_FIELDS = {
    "tmdb_api_token": ("tmdb_api_token_secret_arn", "TMDB_API_TOKEN"),
    "database_url": ("database_url_secret_arn", "DATABASE_URL"),
}


def _value(name: str, secret: str) -> str:
    try:
        document = json.loads(secret)
    except ValueError:
        return secret.strip()
    if not isinstance(document, dict):
        return secret.strip()
    for key in (name, name.lower(), "token", "url", "api_token"):
        if document.get(key):
            return str(document[key])
    if name == "DATABASE_URL" and {"username", "password", "host"} <= document.keys():
        user, password = quote(document["username"]), quote(document["password"], safe="")
        port = document.get("port", 5432)
        dbname = document.get("dbname", "postgres")
        return f"postgresql://{user}:{password}@{document['host']}:{port}/{dbname}"
    raise ValueError(f"the secret for {name} has none of the expected keys")


@cache
def _secret_string(arn: str, region: str | None) -> str:
    """One Secrets Manager call per secret per process: warm Lambda invocations reuse it."""
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    return client.get_secret_value(SecretId=arn)["SecretString"]


def resolved_secrets(settings: Settings) -> dict[str, SecretStr]:
    """The secret fields whose `*_SECRET_ARN` is set, fetched from Secrets Manager."""
    values: dict[str, SecretStr] = {}
    for field, (arn_field, name) in SECRET_FIELDS.items():
        arn = getattr(settings, arn_field)
        if arn:
            values[field] = SecretStr(_value(name, _secret_string(arn, settings.aws_region)))
    return values


def with_secrets(settings: Settings) -> Settings:
    """`settings` with every `*_SECRET_ARN` resolved into its secret field."""
    values = resolved_secrets(settings)
    return settings.model_copy(update=values) if values else settings


def variable_name(field: str) -> str:
    """The environment variable a secret field is read from (`DATABASE_URL`, ...)."""
    return SECRET_FIELDS[field][1]
