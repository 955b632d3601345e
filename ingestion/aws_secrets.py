"""Secrets for Lambda: when `*_SECRET_ARN` is set, the value comes from AWS Secrets Manager.

Secrets never sit in a function's environment in plain text. A secret may hold the value itself
or JSON: `{"TMDB_API_TOKEN": ...}` / `{"token": ...}`, or RDS's own shape
(`username`, `password`, `host`, `port`, `dbname`) for the database.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import boto3

# setting that receives the value ← setting naming the secret
SECRET_SETTINGS = {
    "TMDB_API_TOKEN": "TMDB_API_TOKEN_SECRET_ARN",
    "DATABASE_URL": "DATABASE_URL_SECRET_ARN",
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


def load_secrets_into_environment() -> list[str]:
    """Resolve every `*_SECRET_ARN` into its setting; returns the names filled in."""
    filled = []
    client = None
    for name, arn_setting in SECRET_SETTINGS.items():
        arn = os.environ.get(arn_setting)
        if not arn:
            continue
        client = client or boto3.client("secretsmanager")
        secret = client.get_secret_value(SecretId=arn)["SecretString"]
        os.environ[name] = _value(name, secret)
        filled.append(name)
    return filled
