with

source as (

    select * from {{ source('tmdb', 'movie_deletions') }}

),

renamed as (

    select
        -- ids
        id as movie_id,

        -- dates and timestamps
        _fetched_at as deleted_at,
        _dlt_load_id as raw_load_id

    from source

)

select * from renamed
