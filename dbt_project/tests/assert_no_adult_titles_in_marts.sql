-- Adult titles never reach the marts: any mart row whose movie is flagged adult is a failure.
with

adult_movies as (

    select movie_id from {{ ref('stg_tmdb__movies') }}
    where is_adult

),

mart_movie_ids as (

    select
        movie_id,
        'dim_movies' as mart
    from {{ ref('dim_movies') }}
    union all
    select
        movie_id,
        'bridge_movie_genres' as mart
    from {{ ref('bridge_movie_genres') }}
    union all
    select
        movie_id,
        'fct_movie_cast' as mart
    from {{ ref('fct_movie_cast') }}
    union all
    select
        movie_id,
        'fct_movie_crew' as mart
    from {{ ref('fct_movie_crew') }}
    union all
    select
        movie_id,
        'fct_movie_metrics_daily' as mart
    from {{ ref('fct_movie_metrics_daily') }}
    union all
    select
        movie_id,
        'ml_movie_features' as mart
    from {{ ref('ml_movie_features') }}
    union all
    select
        movie_id,
        'movie_success_predictions' as mart
    from {{ ref('movie_success_predictions') }}

)

select mart_movie_ids.*
from mart_movie_ids
inner join adult_movies
    on mart_movie_ids.movie_id = adult_movies.movie_id
