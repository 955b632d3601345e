{#- History accumulates across runs: a build takes in the snapshots of dlt loads newer than the
    newest it holds (a day re-fetched since is a newer load, and replaces its row by key), so
    a daily build reads the day's snapshots, not the whole newest day again (every film, the
    day after a backfill). The pre-hook drops the history of movies that left the marts. -#}
{{
    config(
        materialized='incremental',
        unique_key=['movie_id', 'snapshot_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'tests_read_latest_build': true},
        pre_hook=["{{ drop_history_of_movies_gone() }}"],
        post_hook=["{{ index_raw_load_id() }}"],
    )
}}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}

),

snapshots as (

    select * from {{ ref('stg_tmdb__movie_snapshots') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

final as (

    select
        snapshots.movie_id,
        snapshots.snapshot_date,
        snapshots.popularity,
        snapshots.vote_average,
        snapshots.vote_count,
        snapshots.fetched_at as observed_at,
        snapshots.raw_load_id,
        {{ built_at() }} as built_at

    from snapshots
    inner join movies
        on snapshots.movie_id = movies.movie_id

)

select * from final
