{#- An incremental table, not a view: unnesting the credits of the whole catalogue on every
    read was most of the build's cost. Movies loaded since the last build are unnested again;
    a movie's earlier credits are replaced with its newest record's. -#}
{{ movie_grained_incremental(
    indexes=[{'columns': ['movie_id']}, {'columns': ['person_id']}], deleted_too=false
) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
with

source as (

    select * from {{ source('tmdb', 'movies') }}
    where {{ loaded_since_last_build('_dlt_load_id') }}

),

unnested as (

    select
        -- ids
        source.id as movie_id,
        (credit.value ->> 'id')::bigint as person_id,
        credit.value ->> 'credit_id' as credit_id,

        -- text
        {{ unknown_if_blank("credit.value ->> 'name'") }} as person_name,
        {{ unknown_if_blank("credit.value ->> 'department'") }} as department,
        {{ unknown_if_blank("credit.value ->> 'job'") }} as job,
        {{ gender_label("(credit.value ->> 'gender')::integer") }} as gender,
        {{ unknown_if_blank("credit.value ->> 'known_for_department'") }} as known_for_department,

        -- numerics
        credit.position::integer as crew_position,

        -- dates and timestamps
        source._fetched_at as fetched_at,
        source._dlt_load_id as raw_load_id,
        {{ built_at() }} as built_at

    from source
    cross join
        lateral
        jsonb_array_elements({{ json_array("source.credits -> 'crew'") }})
        with ordinality as credit (value, position)
    where jsonb_typeof(credit.value -> 'id') = 'number'

)

select * from unnested
