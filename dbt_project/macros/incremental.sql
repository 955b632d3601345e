-- noqa: disable=LT02
-- (layout: sqlfluff cannot lay out SQL inside multi-line Jinja conditions; the macros are read as Jinja)
{#- Incremental models at the catalogue's size (about 1.2 M films, ~1% changed a day).

    A movie-grained model (one or more rows per movie, each row a function of that movie's
    record alone) is rebuilt only for the movies whose TMDB record was loaded since its last
    build: `drop_rewritten_movies` (a pre-hook) deletes every earlier row of those movies
    and of movies deleted since, dbt's delete+insert writes their rows again, and `built_at` marks the rows written by this run so that tests read those rows
    only (see `get_where_subquery`). `tmdb transform --full-refresh` rebuilds from scratch. -#}

{% macro last_build_watermark(this_column='raw_load_id') -%}
    {#- The newest value of `this_column` (by default the dlt load id) this model holds, read
        when the model is compiled (before its pre-hook deletes anything), as text: empty on a
        first or full build, for an empty table, or for a table that lacks a column the model
        documents (built by an earlier version of the model), which are then rebuilt whole. -#}
    {%- if execute and is_incremental() -%}
        {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set missing = model.columns.keys() | reject('in', existing) | list -%}
        {%- if this_column in existing and not missing -%}
            {{- newest_value(this, this_column) -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro newest_value(relation, column) -%}
    {#- max(`column`) of `relation` as text, empty when the relation is empty. -#}
    {%- do return(run_query(
        "select max(" ~ column ~ ")::text from " ~ relation
    ).columns[0].values()[0] or '') -%}
{%- endmacro %}

{% macro movies_rewritten_since(watermark, deleted_too=true) -%}
    {#- The movies whose record was loaded again since `watermark` (a dlt load id), and
        (`deleted_too`) those deleted since: their earlier rows may hold what the newest
        record no longer has. -#}
    select movie_id from {{ ref('stg_tmdb__movies') }}
    where raw_load_id > '{{ watermark }}'
    {%- if deleted_too %}
    union all
    select movie_id from {{ ref('stg_tmdb__movie_deletions') }}
    where raw_load_id > '{{ watermark }}'
    {%- endif %}
{%- endmacro %}

{% macro loaded_since_last_build(column) -%}
    {#- A filter on `column` (the dlt load id of the record's row in raw_tmdb): true on a full
        build, otherwise only records of loads newer than the newest this model holds. Load ids
        increase and a load commits whole, so this misses nothing, even beside an ingestion
        (fetch times would not do: records are fetched concurrently and land in chunks whose
        fetch times overlap). The watermark is a literal, so the planner sees how few rows
        pass. -#}
    {%- set watermark = last_build_watermark() | trim -%}
    {%- if not watermark -%}
        true
    {%- else -%}
        {{ column }} > '{{ watermark }}'
    {%- endif -%}
{%- endmacro %}

{% macro drop_rewritten_movies(deleted_too=true) -%}
    {#- Pre-hook: before the rows of movies loaded since the last build are written, every
        earlier row of those movies goes, and (`deleted_too`) every row of a movie deleted
        since, so a credit a new record no longer has, or a movie that left TMDB (or turned
        adult), leaves no row behind. Staging keeps what raw_tmdb holds, deleted movies
        included. A table built before the model was incremental is emptied. -#}
    {%- if is_incremental() -%}
        {%- set watermark = last_build_watermark() | trim -%}
        {%- if not watermark -%}
            delete from {{ this }}
        {%- else -%}
            delete from {{ this }}
            where movie_id in ({{ movies_rewritten_since(watermark, deleted_too) }})
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro drop_history_of_movies_gone() -%}
    {#- Pre-hook of the daily metrics mart, whose history outlives the raw records: the rows of
        a movie that left the marts (deleted from TMDB, or turned adult) go. Only the movies
        loaded again or deleted since the last build can have left; a table without a
        watermark (built by an earlier version) is checked whole. -#}
    {%- if is_incremental() -%}
        {%- set watermark = last_build_watermark() | trim -%}
        delete from {{ this }} as observed
        where
            {% if watermark -%}
                observed.movie_id in ({{ movies_rewritten_since(watermark) }}) and
            {% endif -%}
            not exists (
                select 1 from {{ ref('int_movies__current') }} as movies
                where movies.movie_id = observed.movie_id
            )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro purge_tombstones() -%}
    {#- Pre-hook of the filmography: tombstones older than a week go (track records have read
        them by then); a table an earlier version of the model built is emptied. -#}
    {%- if is_incremental() -%}
        {%- if not (last_build_watermark() | trim) -%}
            delete from {{ this }}
        {%- else -%}
            delete from {{ this }}
            where not is_current and built_at < now() - interval '7 days'
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro built_at() -%}
    {#- When this run started: the same value for every row a run writes. -#}
    '{{ run_started_at }}'::timestamptz
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {#- Tests of an incremental model, within the `dbt build` that wrote it incrementally, read
        the rows it wrote (`built_at` of this run): the others were tested when they were
        written, and re-reading millions of unchanged rows every day would cost more than the
        build. Sound for the keys we test, which all hold the model's unique key (the rows of a
        rewritten movie replace all of its earlier rows). A full refresh, a first build and a
        bare `dbt test` read every row. A test's own `where` still applies.

        A staging view that unnests the raw JSON names, in meta `tests_read_loads_after`, the
        incremental model it feeds: its tests read the records of loads newer than that model's
        watermark. Those are the loads that model has not taken in yet; a test that fails
        skips the model, so its watermark holds and the same loads are tested again next time
        (a warning is counted on the day its rows arrive, as for incremental models). -#}
    {%- set where = config.get('where', '') -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append(where) -%}{%- endif -%}
    {%- if execute and flags.WHICH == 'build' and not flags.FULL_REFRESH -%}
        {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
        {%- if tested is not none
            and tested.config.materialized == 'incremental'
            and tested.config.meta.get('tests_read_latest_build') -%}
            {%- do conditions.append("built_at = " ~ built_at()) -%}
        {%- elif tested is not none and tested.config.meta.get('tests_read_loads_after') -%}
            {%- set watermark = model_watermark(tested.config.meta['tests_read_loads_after']) -%}
            {%- if watermark -%}
                {%- do conditions.append("raw_load_id > '" ~ watermark ~ "'") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro plan_for_a_few_people() -%}
    {#- Pre-hook of the track records, when catching up: which filmographies changed is known
        only at run time, so the planner guesses a few records where a 1% day brings tens of
        thousands, and would probe tables by index row by row (a random heap read each: 30 s
        at 300,000 films, when earlier films were read that way). Hash joins it is, for the
        day's movies and the changed people's records; the look-up of earlier films stays a
        loop by construction (a lateral subquery), on an index that holds what it reads
        (`index_earlier_films`). Scoped to the model's own transaction. -#}
    {%- if is_incremental() and (last_build_watermark() | trim) -%}
        set local enable_nestloop = off;
        set local work_mem = '256MB'
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro index_earlier_films() -%}
    {#- Post-hook of the filmography: the index a catching-up build of the track records reads
        each record's earlier films from, a range of (person, role, release date) holding the
        revenue and label too, current films only. A day's 56,000 records read 3 M earlier
        films at 300,000 films; from the index that is a scan of index entries, where a join
        sorted every changed person's whole filmography (8 s). -#}
    {{ ensure_index(
        'person_id, credit_role, release_date',
        'INCLUDE (reliable_revenue_usd, is_commercial_success) WHERE is_current'
    ) }}
{%- endmacro %}

{% macro analyze_rebuilt() -%}
    {#- Post-hook of every table model: statistics for a table just written whole, before the
        models downstream plan their joins on it. PostgreSQL does not gather them at `create
        table as` (autovacuum comes a minute later), and a planner that guesses a third of
        300,000 movies where 3,000 changed reads the 3 M credits whole (12 s against 0.5 s at
        300,000 films). An incremental model catching up keeps its statistics: a day changes
        about 1% of its rows. -#}
    {%- if model.config.materialized == 'table'
        or (model.config.materialized == 'incremental' and not is_incremental()) -%}
        analyze {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro movie_grained_incremental(indexes, deleted_too=true) -%}
    {#- Configures the calling model as a movie-grained incremental model (see the top of this
        file): rows keyed by movie, rewritten for the movies of newer loads after
        `drop_rewritten_movies`, new columns appended, tests reading this build's rows. One
        definition, so the models that share the rule cannot drift apart.

        Every such model is also indexed on `raw_load_id` (`index_raw_load_id`). -#}
    {{ config(
        materialized='incremental',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=indexes,
        meta={'tests_read_latest_build': true},
        pre_hook=['{{ drop_rewritten_movies(deleted_too=' ~ deleted_too ~ ') }}'],
        post_hook=['{{ index_raw_load_id() }}'],
    ) }}
{%- endmacro %}

{% macro rename_genres_as_listed() -%}
    {#- Post-hook of the incremental genre marts: a genre's name comes from `dim_genres` (TMDB's
        genre list), which is rebuilt whole; when TMDB renames a genre, the rows of movies not
        loaded since keep the old name unless renamed here. A renamed row counts as written by
        this build (`built_at`), so the features of its movie are computed again. A no-op on
        almost every day. -#}
    {%- if is_incremental() -%}
        update {{ this }} as movie_genres
        set genre_name = genres.genre_name, built_at = {{ built_at() }}
        from {{ ref('dim_genres') }} as genres
        where
            movie_genres.genre_id = genres.genre_id
            and movie_genres.genre_name is distinct from genres.genre_name
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro index_raw_load_id() -%}
    {#- Post-hook of the movie-grained models: the models downstream read the rows of newer
        loads (`raw_load_id > watermark`), and an index on the column is how the planner sees
        how many there are: it reads values past its statistics from the index's end. Without
        it, 2,587 new rows were guessed as 12 and a nested loop made a 13 ms join of dim_movies
        take 11 s at 300,000 films. -#}
    {{ ensure_index('raw_load_id') }}
{%- endmacro %}

{% macro index_built_at() -%}
    {#- Post-hook of every model: a model whose tests read the rows this build wrote
        (`tests_read_latest_build`, see `get_where_subquery`) is indexed on `built_at`, so each
        of its tests reads the day's rows by index instead of scanning the table: 131 tests
        scanned 21 s of SQL a day at 300,000 films, most of it rows they then discarded. -#}
    {%- if model.config.materialized == 'incremental'
        and model.config.meta.get('tests_read_latest_build') -%}
        {{ ensure_index('built_at') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro ensure_index(columns, rest='') -%}
    {#- An index on `columns` of this model's table (`rest`: its INCLUDE and WHERE clauses, as
        PostgreSQL prints them) unless the table has that index. A hook, not a configured
        index, so a table built before the index existed gets it on its next incremental
        build too; it looks at the table's own indexes (a name could belong to the table a
        full rebuild is replacing). -#}
    do $$
    begin
        if not exists (
            select 1
            from pg_index
            where
                indrelid = '{{ this }}'::regclass
                and pg_get_indexdef(indexrelid)
                like '%USING btree ({{ columns }}){{ " " ~ rest if rest }}'
        ) then
            create index on {{ this }} ({{ columns }}) {{ rest }};
        end if;
    end
    $$
{%- endmacro %}

{% macro model_watermark(model_name) -%}
    {#- The newest `raw_load_id` the model `model_name` holds, as text; empty when the model is
        not built yet or lacks the column. Read at compile time, before this build writes it. -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias)
        if node is not none else none -%}
    {%- if relation is not none
        and 'raw_load_id' in (adapter.get_columns_in_relation(relation) | map(attribute='name') | list) -%}
        {%- do return(newest_value(relation, 'raw_load_id')) -%}
    {%- endif -%}
    {%- do return('') -%}
{%- endmacro %}

{% macro drop_movies_not_current() -%}
    {#- Pre-hook of the incremental marts keyed by movie that are not rewritten by load
        (`ml_movie_features`, the predictions): the rows of movies deleted from TMDB, or turned
        adult, since their last build. One anti-join. -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where not exists (
            select from {{ ref('int_movies__current') }} as movies
            where movies.movie_id = {{ this }}.movie_id
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro collect_changed_movies() -%}
    {#- Pre-hook of `ml_movie_features` (see the model): the movies whose record, genres or
        track records were written since its last build, and whether the record itself was
        (`is_reloaded`), in a temporary table with statistics. -#}
    {%- set built = (last_build_watermark('built_at') | trim) if is_incremental() else '' -%}
    {%- if built -%}
        create temporary table ml_movie_features__changed on commit drop as
        select
            written.movie_id,
            bool_or(written.is_reloaded) as is_reloaded
        from (
            select movie_id, true as is_reloaded from {{ ref('int_movies__current') }}
            where built_at > '{{ built }}'::timestamptz
            union all
            select movie_id, false as is_reloaded from {{ ref('bridge_movie_genres') }}
            where built_at > '{{ built }}'::timestamptz
            union all
            select movie_id, false as is_reloaded
            from {{ ref('int_movie_people__track_records') }}
            where built_at > '{{ built }}'::timestamptz
        ) as written
        group by written.movie_id;
        analyze ml_movie_features__changed
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
