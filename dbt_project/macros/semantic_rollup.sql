{#- Rollups of semantic models: the additive measures of one semantic model, summed by release
    year and by the few dimensions its meta `rollup` lists, so that the common metric queries
    ("movies by genre", "success rate by year") read thousands of rows instead of every movie.
    The API answers a metric query from a rollup only when every part of it is in the rollup
    (api/semantic/rollup.py, which turns the same measures into the same cells); anything else,
    and every median or distinct count, is compiled against the semantic model itself.

    The cells, per measure (the model's own `expr`, so each rule stays in the semantic model):
    - count: `count(expr)` as an integer, so MetricFlow's sum of the cells has the type of its
      sum over the rows (bigint);
    - sum: `sum(expr)` cast back to the type of `expr`, for the same reason;
    - average: `<measure>__sum` and `<measure>__count`, from which the average is a ratio.
    Other aggregations, and measures with their own time dimension or a non-additive one, have
    no cell. -#}

{% macro semantic_model_named(name) -%}
    {%- for node in graph.semantic_models.values() if node.name == name -%}
        {{- return(node) -}}
    {%- endfor -%}
    {{- exceptions.raise_compiler_error("no semantic model named " ~ name) -}}
{%- endmacro %}

{% macro rollup_expr(element) -%}
    {{- return(element.expr or element.name) -}}
{%- endmacro %}

{% macro rollup_measures(semantic_model) -%}
    {#- The measures a rollup holds: additive ones on the model's own time dimension. -#}
    {%- set kept = [] -%}
    {%- for measure in semantic_model.measures
        if measure.agg in ('count', 'sum', 'average')
        and not measure.non_additive_dimension
        and measure.agg_time_dimension in (none, semantic_model.defaults.agg_time_dimension) -%}
        {%- do kept.append(measure) -%}
    {%- endfor -%}
    {{- return(kept) -}}
{%- endmacro %}

{% macro rollup_keys(semantic_model) -%}
    {#- (column, expression) of each grouping key: the listed dimensions and entities, and the
        model's time dimension truncated to the year. -#}
    {%- set spec = semantic_model.config.meta.rollup -%}
    {%- set keys = [] -%}
    {%- for dimension in semantic_model.dimensions if dimension.name in spec.dimensions -%}
        {%- do keys.append((dimension.name, rollup_expr(dimension))) -%}
    {%- endfor -%}
    {%- for entity in semantic_model.entities if entity.name in spec.get('entities', []) -%}
        {%- do keys.append((entity.name, rollup_expr(entity))) -%}
    {%- endfor -%}
    {%- set time_name = semantic_model.defaults.agg_time_dimension -%}
    {%- for dimension in semantic_model.dimensions if dimension.name == time_name -%}
        {%- do keys.append(
            (time_name, "cast(date_trunc('year', " ~ rollup_expr(dimension) ~ ") as date)")
        ) -%}
    {%- endfor -%}
    {{- return(keys) -}}
{%- endmacro %}

{% macro rollup_cells(semantic_model, source) -%}
    {#- (column, aggregate over the model's rows) of each cell. -#}
    {%- set measures = rollup_measures(semantic_model) -%}
    {%- set summed = measures | selectattr('agg', 'equalto', 'sum') | list -%}
    {%- set types = {} -%}
    {%- if summed -%}
        {%- set probes = [] -%}
        {%- for measure in summed -%}
            {%- do probes.append(
                "pg_typeof((select " ~ rollup_expr(measure) ~ " from " ~ source ~ " limit 0))::text"
            ) -%}
        {%- endfor -%}
        {%- set row = run_query("select " ~ probes | join(", ")).rows[0] -%}
        {%- for measure in summed -%}
            {%- do types.update({measure.name: row[loop.index0]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set cells = [] -%}
    {%- for measure in measures -%}
        {%- set expr = rollup_expr(measure) -%}
        {%- if measure.agg == 'count' -%}
            {%- do cells.append((measure.name, "cast(count(" ~ expr ~ ") as integer)")) -%}
        {%- elif measure.agg == 'sum' -%}
            {%- do cells.append(
                (measure.name, "cast(sum(" ~ expr ~ ") as " ~ types[measure.name] ~ ")")
            ) -%}
        {%- else -%}
            {%- do cells.append((measure.name ~ "__sum", "sum(" ~ expr ~ ")")) -%}
            {%- do cells.append((measure.name ~ "__count", "count(" ~ expr ~ ")")) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(cells) -}}
{%- endmacro %}

{% macro semantic_rollup(semantic_model_name, source) -%}
    {%- if not execute -%}
        select 1 as rollup_placeholder
    {%- else -%}
        {%- set semantic_model = semantic_model_named(semantic_model_name) -%}
        {%- set keys = rollup_keys(semantic_model) -%}
        select
        {%- for column, expression in keys %}
            {{ expression }} as {{ column }},
        {%- endfor %}
        {%- for column, expression in rollup_cells(semantic_model, source) %}
            {{ expression }} as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
        from {{ source }}
        group by {% for _ in keys %}{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}
