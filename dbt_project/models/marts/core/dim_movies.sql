{#- Incremental: the movies loaded since the last build are written again, and the rows of
    movies deleted since go. Every part of a row comes from the movie's own record, so each
    input is read for the same loads only. -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}]) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

financials as (

    select * from {{ ref('int_movies__financials') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

certifications as (

    select * from {{ ref('int_movies__us_certification') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

directors as (

    select * from {{ ref('int_movies__primary_director') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

primary_genres as (

    select
        movie_id,
        genre_name as primary_genre

    from {{ ref('stg_tmdb__movie_genres') }}
    where
        genre_position = 1
        and {{ loaded_since_last_build('raw_load_id') }}

),

final as (

    select
        movies.movie_id,
        movies.imdb_id,
        movies.title,
        movies.original_title,
        movies.original_language,
        movies.overview,
        movies.status,
        movies.release_date,
        extract(year from movies.release_date)::integer as release_year,
        movies.runtime_minutes,
        movies.budget_usd,
        movies.revenue_usd,
        financials.profit_usd,
        financials.roi,
        movies.vote_average,
        movies.vote_count,
        movies.popularity,
        primary_genres.primary_genre,
        movies.collection_id,
        movies.collection_name,
        certifications.us_certification,
        directors.director_name,
        financials.is_financially_reliable,
        financials.is_commercial_success,
        movies.fetched_at as last_refreshed_at,
        movies.raw_load_id,
        {{ built_at() }} as built_at

    from movies
    inner join financials
        on movies.movie_id = financials.movie_id
    left join certifications
        on movies.movie_id = certifications.movie_id
    left join directors
        on movies.movie_id = directors.movie_id
    left join primary_genres
        on movies.movie_id = primary_genres.movie_id

)

select * from final
