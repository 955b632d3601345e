with

movies as (

    select * from {{ ref('dim_movies') }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}

),

final as (

    select
        movie_genres.genre_name,
        movies.release_year,
        count(*) as movie_count,
        avg(movies.vote_average) as avg_vote_average,
        sum(movies.revenue_usd) as total_revenue_usd,
        percentile_cont(0.5) within group (order by movies.roi) as median_roi,
        count(movies.is_commercial_success) as labelled_movie_count,
        (
            avg(case when movies.is_commercial_success then 1.0 else 0.0 end)
            filter (where movies.is_commercial_success is not null)
        )::double precision as success_rate

    from movie_genres
    inner join movies
        on movie_genres.movie_id = movies.movie_id
    where movies.release_year is not null
    group by movie_genres.genre_name, movies.release_year

)

select * from final
