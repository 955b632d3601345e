with

movies as (

    select * from {{ ref('dim_movies') }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}

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
        movies.original_language

    from movie_genres
    inner join movies
        on movie_genres.movie_id = movies.movie_id

)

select * from final
