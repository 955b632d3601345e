with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

unnested as (

    select
        -- ids
        source.id as movie_id,
        (genre.value ->> 'id')::bigint as genre_id,

        -- text
        {{ unknown_if_blank("genre.value ->> 'name'") }} as genre_name,

        -- numerics
        genre.position::integer as genre_position,

        -- dates and timestamps
        source._dlt_load_id as raw_load_id

    from source
    cross join
        lateral
        jsonb_array_elements({{ json_array('source.genres') }})
        with ordinality as genre (value, position)
    where jsonb_typeof(genre.value -> 'id') = 'number'

)

select * from unnested
