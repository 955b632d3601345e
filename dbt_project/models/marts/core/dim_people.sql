with

movies as (

    select * from {{ ref('int_movies__current') }}

),

cast_credits as (

    select * from {{ ref('stg_tmdb__movie_cast') }}

),

crew_credits as (

    select * from {{ ref('stg_tmdb__movie_crew') }}

),

credits as (

    select
        person_id,
        person_name,
        gender,
        known_for_department,
        fetched_at,
        movie_id

    from cast_credits

    union all

    select
        person_id,
        person_name,
        gender,
        known_for_department,
        fetched_at,
        movie_id

    from crew_credits

),

latest as (

    select
        credits.person_id,
        credits.person_name,
        credits.gender,
        credits.known_for_department,
        row_number() over (
            partition by credits.person_id
            order by credits.fetched_at desc, credits.movie_id desc
        ) as recency_rank

    from credits
    inner join movies
        on credits.movie_id = movies.movie_id

),

final as (

    select
        person_id,
        person_name as name,  -- noqa: RF04
        gender,
        known_for_department

    from latest
    where recency_rank = 1

)

select * from final
