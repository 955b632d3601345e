with

movies as (

    select * from {{ ref('stg_tmdb__movies') }}

),

deletions as (

    select * from {{ ref('stg_tmdb__movie_deletions') }}

),

current_movies as (

    select movies.*
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
