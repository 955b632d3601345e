{#- Incremental: the movies loaded since the last build are filtered again, and the rows of
    movies deleted since go (the pre-hook). -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}]) }}

with

movies as (

    select * from {{ ref('stg_tmdb__movies') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

deletions as (

    select * from {{ ref('stg_tmdb__movie_deletions') }}

),

current_movies as (

    select
        movies.*,
        {{ built_at() }} as built_at

    from movies
    left join deletions
        on
            movies.movie_id = deletions.movie_id
            and movies.fetched_at < deletions.deleted_at
    where
        not movies.is_adult
        and deletions.movie_id is null

)

select * from current_movies
