{% test expression_is_true(model, expression, where_clause=none) %}
    {#- A row-level business rule; rows where it does not hold are the failures. -#}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
    {%- if where_clause %}
        and ({{ where_clause }})
    {%- endif %}
{% endtest %}
