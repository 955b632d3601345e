-- How the success rate moves with the US rating: a starting point for analysts (compiled by
-- dbt, run by hand: `tmdb dbt compile -s success_rate_by_certification`).
with

movies as (

    select * from {{ ref('dim_movies') }}

),

ratings as (

    select * from {{ ref('us_mpa_ratings') }}

)

select
    ratings.rating,
    ratings.rating_name,
    count(movies.is_commercial_success) as labelled_movies,
    avg(case when movies.is_commercial_success then 1.0 else 0.0 end)
    filter (where movies.is_commercial_success is not null) as success_rate
from ratings
left join movies
    on ratings.rating = movies.us_certification
group by ratings.rating, ratings.rating_name
order by success_rate desc nulls last
