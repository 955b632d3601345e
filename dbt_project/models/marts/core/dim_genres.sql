with

genre_list as (

    select * from {{ ref('stg_tmdb__genres') }}

),

movie_genres as (

    select * from {{ ref('stg_tmdb__movie_genres') }}

),

listed_on_movies as (

    select
        genre_id,
        min(genre_name) as genre_name

    from movie_genres
    group by genre_id

),

final as (

    select
        coalesce(genre_list.genre_id, listed_on_movies.genre_id) as genre_id,
        coalesce(genre_list.genre_name, listed_on_movies.genre_name) as genre_name

    from genre_list
    full outer join listed_on_movies
        on genre_list.genre_id = listed_on_movies.genre_id

)

select * from final
