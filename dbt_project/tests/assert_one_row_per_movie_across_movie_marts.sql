-- dim_movies and ml_movie_features describe exactly the same movies, once each.
with

dim as (

    select
        movie_id,
        count(*) as row_count
    from {{ ref('dim_movies') }}
    group by movie_id

),

features as (

    select
        movie_id,
        count(*) as row_count
    from {{ ref('ml_movie_features') }}
    group by movie_id

)

select
    coalesce(dim.movie_id, features.movie_id) as movie_id,
    dim.row_count as dim_rows,
    features.row_count as feature_rows
from dim
full outer join features
    on dim.movie_id = features.movie_id
where
    dim.movie_id is null
    or features.movie_id is null
    or dim.row_count <> 1
    or features.row_count <> 1
