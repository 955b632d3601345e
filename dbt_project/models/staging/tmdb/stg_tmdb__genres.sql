with

source as (

    select * from {{ source('tmdb', 'genres') }}

),

renamed as (

    select
        -- ids
        id as genre_id,

        -- text
        {{ unknown_if_blank('name') }} as genre_name,

        -- dates and timestamps
        _fetched_at as fetched_at

    from source

)

select * from renamed
