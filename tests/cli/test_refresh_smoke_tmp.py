from tests.builders import catalogue, trained_warehouse_env
from warehouse.settings import Settings
from cli.refresh import refresh, RefreshOptions


def test_smoke(pg_socket_url, tmp_path):
    with trained_warehouse_env(pg_socket_url, tmp_path, catalogue(5, 900), "refresh-test") as (url, _):
        s = refresh(Settings(), RefreshOptions(skip_ingest=True), progress=print)
        print("\n".join(s.lines()))
        assert 0
