{% test unique_combination_of_columns(model, combination_of_columns) %}
    {#- The grain of a table spanning several columns: no two rows share the combination. -#}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
