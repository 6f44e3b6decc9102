-- The non-self ratings with their composite that the Python analytics read (quality.reliability,
-- quality.leniency, quality.fair_scores; pipelines/quality/analytics.py), every quarter. `is_rebuilt`
-- marks the quarters this build rebuilds: the selected quarter (macros/quarters.sql), or every quarter
-- when none is selected. A view, made again by every build, so the mark is always the build's own.
{%- set key = selected_quarter() %}
select
    quarter,
    unit_code,
    ratee_code,
    rater_tier,
    rater_code,
    composite_score as composite,
    {% if key is not none -%}
        quarter = {{ dbt.string_literal(key) }}
    {%- else -%}
        true
    {%- endif %} as is_rebuilt
from {{ ref('int_rating_composites') }}
where is_usable
