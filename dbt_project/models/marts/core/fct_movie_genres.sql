{#- Incremental, like the bridge it extends: the movies loaded since the last build are written
    again, the rows of movies deleted since go, and a genre TMDB renames is renamed on every row
    (post-hook). -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}]) }}
{{ config(post_hook=["{{ rename_genres_as_listed() }}"]) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
-- depends_on: {{ ref('dim_genres') }}
with

movies as (

    select * from {{ ref('dim_movies') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

final as (

    select
        movie_genres.movie_id,
        movie_genres.genre_id,
        movie_genres.genre_name,
        movie_genres.is_primary_genre,
        movies.release_date,
        movies.budget_usd,
        movies.revenue_usd,
        movies.profit_usd,
        movies.roi,
        movies.runtime_minutes,
        movies.vote_average,
        movies.vote_count,
        movies.popularity,
        movies.is_commercial_success,
        movies.director_name,
        movies.collection_id,
        movies.original_language,
        movies.raw_load_id,
        {{ built_at() }} as built_at

    from movie_genres
    inner join movies
        on movie_genres.movie_id = movies.movie_id

)

select * from final
