-- The Organization Department's review queue (docs/quality.md, "Review queue"): one row per case — a
-- rater, a rater pair, a unit (quarter or year), or for A1/A8 the rating row itself — from
-- fct_rating_findings, ranked by severity, then by how sure the finding is (the findings' own confidence
-- = 1 − Benjamini–Hochberg q, filled by A1–A8 and U1–U3), then by period (newest first). U4 is a rule on
-- recorded facts with no test: its confidence is null and it ranks after the tested findings of its
-- severity. The unit tests' p value and city reference come from int_unit_tests_quarter / _year (the
-- rater tests keep their p inside their models). `evidence` states the figures without naming any person
-- (the code columns and explanation_zh are aliased on publishing like the findings').
with findings as (
    select * from {{ ref('fct_rating_findings') }}
),

quarter_tests as (
    select
        code,
        quarter,
        unit_code,
        p_value,
        q_value,
        reference
    from {{ ref('int_unit_tests_quarter') }}
),

year_tests as (
    select
        code,
        rules_year,
        unit_code,
        p_value,
        q_value,
        reference,
        top_turnover
    from {{ ref('int_unit_tests_year') }}
),

annotated as (
    select
        findings.*,
        case
            when findings.code in ('A1', 'A8') then 'rating'
            when findings.code in ('A6', 'A7') then 'rater_pair'
            when findings.code in ('U1', 'U4') then 'unit_year'
            when findings.code in ('U2', 'U3') then 'unit_quarter'
            else 'rater'
        end as case_kind,
        coalesce(quarter_tests.p_value, year_tests.p_value) as p_value,
        1.0 - findings.confidence as q_value,
        coalesce(quarter_tests.reference, year_tests.reference) as reference,
        year_tests.top_turnover
    from findings
    left join quarter_tests
        on
            findings.code = quarter_tests.code
            and findings.quarter = quarter_tests.quarter
            and findings.unit_code = quarter_tests.unit_code
    left join year_tests
        on
            findings.code = year_tests.code
            and findings.year = year_tests.rules_year
            and findings.unit_code = year_tests.unit_code
            and findings.quarter is null
),

final as (
    select
        row_number() over (
            order by
                case severity when 'high' then 0 when 'medium' then 1 else 2 end,
                confidence desc nulls last,
                period desc,
                code asc,
                finding_id asc
        ) as queue_rank,
        finding_id as case_id,
        case_kind,
        code,
        type,
        severity,
        confidence,
        p_value,
        q_value,
        period,
        quarter,
        year,
        county_code,
        unit_code,
        rater_tier,
        rater_code,
        rater_tier_2,
        rater_code_2,
        ratee_code,
        metric,
        value,
        threshold,
        n,
        concat_ws(
            '; ',
            printf('%s = %.3f (threshold %.3f)', metric, value, threshold),
            printf('n = %d', n),
            case when reference is not null then printf('city reference = %.3f', reference) end,
            case when top_turnover is not null then printf('好 turnover vs chance = %.2f', top_turnover) end,
            case when p_value is not null then printf('p = %.2g', p_value) end,
            case when q_value is not null then printf('BH q = %.2g', q_value) end
        ) as evidence,
        explanation_zh,
        rules_version
    from annotated
)

select * from final
order by queue_rank
