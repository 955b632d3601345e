with

movies as (

    select * from {{ ref('int_movies__current') }}

),

cast_credits as (

    select * from {{ ref('stg_tmdb__movie_cast') }}

),

final as (

    select
        cast_credits.movie_id,
        cast_credits.person_id,
        movies.release_date,
        string_agg(
            cast_credits.character_name, ' / '
            order by cast_credits.cast_order, cast_credits.credit_id
        ) as character_name,
        min(cast_credits.cast_order) as cast_order,
        count(*) as count_characters

    from cast_credits
    inner join movies
        on cast_credits.movie_id = movies.movie_id
    group by cast_credits.movie_id, cast_credits.person_id, movies.release_date

)

select * from final
