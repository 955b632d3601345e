{#- Every film of every person, in the two roles whose track record predicts success. -#}

with

movies as (

    select * from {{ ref('int_movies__current') }}

),

financials as (

    select * from {{ ref('int_movies__financials') }}

),

crew as (

    select * from {{ ref('stg_tmdb__movie_crew') }}

),

cast_credits as (

    select * from {{ ref('stg_tmdb__movie_cast') }}

),

credits as (

    select distinct
        movie_id,
        person_id,
        'director' as credit_role

    from crew
    where job = 'Director'

    union

    select distinct
        movie_id,
        person_id,
        'cast' as credit_role

    from cast_credits

),

final as (

    select
        credits.person_id,
        credits.credit_role,
        credits.movie_id,
        movies.release_date,
        case
            when financials.is_revenue_reliable then financials.revenue_usd
        end as reliable_revenue_usd,
        financials.is_commercial_success

    from credits
    inner join movies
        on credits.movie_id = movies.movie_id
    inner join financials
        on credits.movie_id = financials.movie_id

)

select * from final
