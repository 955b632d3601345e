{#- Incremental: the credits of movies loaded since the last build are rewritten. -#}
{{ movie_grained_incremental(
    indexes=[{'columns': ['movie_id']}, {'columns': ['person_id']}]
) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

cast_credits as (

    select * from {{ ref('stg_tmdb__movie_cast') }}

),

final as (

    select
        cast_credits.movie_id,
        cast_credits.person_id,
        movies.release_date,
        movies.raw_load_id,
        {{ built_at() }} as built_at,
        string_agg(
            cast_credits.character_name, ' / '
            order by cast_credits.cast_order, cast_credits.credit_id
        ) as character_name,
        min(cast_credits.cast_order) as cast_order,
        count(*) as count_characters

    from cast_credits
    inner join movies
        on cast_credits.movie_id = movies.movie_id
    group by
        cast_credits.movie_id, cast_credits.person_id, movies.release_date, movies.raw_load_id

)

select * from final
