{{
    config(
        materialized='incremental',
        unique_key=['movie_id', 'snapshot_date'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} as metrics where not exists (select 1 from "
            ~ "{{ ref('int_movies__current') }} as movies where movies.movie_id = metrics.movie_id)"
        ],
    )
}}

with

movies as (

    select * from {{ ref('int_movies__current') }}

),

snapshots as (

    select * from {{ ref('stg_tmdb__movie_snapshots') }}
    {% if is_incremental() %}
        -- the newest day may have been re-fetched since the last build: take it again
        where
            snapshot_date
            >= (
                select coalesce(max(loaded.snapshot_date), '1900-01-01')
                from {{ this }} as loaded
            )
    {% endif %}

),

final as (

    select
        snapshots.movie_id,
        snapshots.snapshot_date,
        snapshots.popularity,
        snapshots.vote_average,
        snapshots.vote_count,
        snapshots.fetched_at as observed_at

    from snapshots
    inner join movies
        on snapshots.movie_id = movies.movie_id

)

select * from final
