{#- Incremental: the genres of movies loaded since the last build are written again, the rows
    of movies deleted since go, and a genre TMDB renames is renamed on every row (post-hook). -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}]) }}
{{ config(post_hook=["{{ rename_genres_as_listed() }}"]) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

movie_genres as (

    select * from {{ ref('stg_tmdb__movie_genres') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

distinct_pairs as (

    select
        movie_genres.movie_id,
        movie_genres.genre_id,
        movies.raw_load_id,
        min(movie_genres.genre_position) as genre_position

    from movie_genres
    inner join movies
        on movie_genres.movie_id = movies.movie_id
    group by movie_genres.movie_id, movie_genres.genre_id, movies.raw_load_id

),

final as (

    select
        distinct_pairs.movie_id,
        distinct_pairs.genre_id,
        genres.genre_name,
        distinct_pairs.genre_position,
        distinct_pairs.genre_position = 1 as is_primary_genre,
        distinct_pairs.raw_load_id,
        {{ built_at() }} as built_at

    from distinct_pairs
    inner join genres
        on distinct_pairs.genre_id = genres.genre_id

)

select * from final
