with

movies as (

    select * from {{ ref('int_movies__current') }}

),

movie_genres as (

    select * from {{ ref('stg_tmdb__movie_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

distinct_pairs as (

    select
        movie_genres.movie_id,
        movie_genres.genre_id,
        min(movie_genres.genre_position) as genre_position

    from movie_genres
    inner join movies
        on movie_genres.movie_id = movies.movie_id
    group by movie_genres.movie_id, movie_genres.genre_id

),

final as (

    select
        distinct_pairs.movie_id,
        distinct_pairs.genre_id,
        genres.genre_name,
        distinct_pairs.genre_position,
        distinct_pairs.genre_position = 1 as is_primary_genre

    from distinct_pairs
    inner join genres
        on distinct_pairs.genre_id = genres.genre_id

)

select * from final
