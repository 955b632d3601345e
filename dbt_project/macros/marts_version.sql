{#- The marts' data version, which lets the API cache query results without ever serving a
    stale one (api/text_to_sql/result_cache.py).

    The API keys each cached result by a fingerprint of the `marts` catalogue (schema, tables,
    files, columns, grants) and this counter. A rebuilt or truncated table changes the
    catalogue; a write in place (an incremental model's delete+insert) does not, so every model
    under `marts` bumps the counter as a post-hook, inside the model's own transaction (dbt
    runs post-hooks before its COMMIT): a reader sees the new rows and the new number together,
    or neither. Never a sequence: `nextval` is not transactional, so a reader could pair the new
    number with the old rows. -#}

{% macro create_marts_version_table(role) -%}
    {#- on-run-start: the one-row counter, before any model can bump it; the analyst reads it. -#}
    create schema if not exists tmdb_app;
    create table if not exists tmdb_app.marts_version (
        is_the_row boolean primary key default true check (is_the_row),
        version bigint not null default 0,
        bumped_at timestamp with time zone not null default now()
    );
    insert into tmdb_app.marts_version default values on conflict do nothing;
    do $$
    begin
        if exists (select from pg_roles where rolname = '{{ role }}') then
            execute 'grant usage on schema tmdb_app to {{ role }}';
            execute 'grant select on tmdb_app.marts_version to {{ role }}';
        end if;
    end
    $$;
{%- endmacro %}

{% macro bump_marts_version() -%}
    {#- post-hook of every model under `marts` (dbt_project.yml). Bumping while building the
        shadow marts (`marts__next`) is a harmless extra invalidation. -#}
    update tmdb_app.marts_version set version = version + 1, bumped_at = now()
{%- endmacro %}
