-- The genre-year mart counts every dated movie-genre link exactly once.
with

mart as (

    select coalesce(sum(movie_count), 0) as counted
    from {{ ref('mart_genre_year_performance') }}

),

links as (

    select count(*) as expected
    from {{ ref('bridge_movie_genres') }} as bridge
    inner join {{ ref('dim_movies') }} as movies
        on bridge.movie_id = movies.movie_id
    where movies.release_year is not null

)

select
    mart.counted,
    links.expected
from mart
cross join links
where mart.counted <> links.expected
